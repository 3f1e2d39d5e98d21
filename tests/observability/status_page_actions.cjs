// Drives the status page in headless Chromium (playwright-core): gives the
// token when asked, picks reason INC-42 and 15 minutes, clicks ACTION
// ("disable" or "enable") on backend $B, and waits for the page's result;
// ACTION "ack" acknowledges the open incident $INCIDENT from its button.
// Exits 1 with what the page showed on any failure.
const { chromium } = require("playwright-core");

const action = process.argv[2];
const { CHROME, ADMIN, TOKEN, B } = process.env;

(async () => {
  const browser = await chromium.launch({ executablePath: CHROME, headless: true, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://${ADMIN}/`);
    // The admin needs a token for /status: the page asks for it.
    await page.waitForSelector("#tokenbox", { state: "visible", timeout: 10000 });
    await page.fill("#token", TOKEN);
    await page.click("#tokenform button[type=submit]");
    // The charts of the last 15 minutes show the requests sent before.
    await page.waitForFunction(
      () => {
        const rows = document.querySelectorAll("#charts .chartrow");
        if (rows.length !== 1 || rows[0].querySelectorAll("polyline").length !== 3) return false;
        const label = rows[0].querySelector(".chart div").textContent;
        return /^requests\/s: [0-9.]+ \(peak [0-9.]+\)$/.test(label) && !/peak 0\)/.test(label);
      },
      null,
      { timeout: 10000 },
    );
    console.log("charts: " + (await page.textContent("#charts .chartrow")));
    if (action === "ack") {
      // An open incident ($INCIDENT) is listed with an acknowledge button.
      const ackButton = `button[data-ack="${process.env.INCIDENT}"]`;
      await page.waitForSelector(ackButton, { timeout: 10000 });
      await page.fill("#act-reason", "INC-43 looking");
      await page.click(ackButton);
      await page.waitForFunction(
        (id) => {
          const r = document.getElementById("actresult");
          return r && r.className === "ok" && r.textContent.includes("acknowledged " + id);
        },
        process.env.INCIDENT,
        { timeout: 10000 },
      );
      // The list shows it acknowledged, and the button is gone.
      await page.waitForFunction(
        (id) => document.getElementById("incidents").textContent.includes("acknowledged") &&
          !document.querySelector(`button[data-ack="${id}"]`),
        process.env.INCIDENT,
        { timeout: 10000 },
      );
      console.log("page result: " + (await page.textContent("#actresult")));
      return;
    }
    const button = `button[data-action="${action}"][data-backend="${B}"]`;
    await page.waitForSelector(button, { timeout: 10000 });
    await page.fill("#act-reason", "INC-42");
    await page.selectOption("#act-for", "15m");
    await page.click(button);
    const want = action === "disable" ? "disabled" : "healthy";
    await page.waitForFunction(
      ([b, w]) => {
        const r = document.getElementById("actresult");
        return r && r.className === "ok" && r.textContent.includes(b) && r.textContent.includes(w);
      },
      [B, want],
      { timeout: 10000 },
    );
    console.log("page result: " + (await page.textContent("#actresult")));
  } catch (e) {
    console.error("FAILED: " + e.message);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
