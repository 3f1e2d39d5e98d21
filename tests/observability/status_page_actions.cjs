// Drives the status page in headless Chromium (playwright-core): gives the
// token when asked, picks reason INC-42 and 15 minutes, clicks ACTION
// ("disable" or "enable") on backend $B, and waits for the page's result.
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
