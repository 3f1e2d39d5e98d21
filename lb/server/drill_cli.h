// `ballast drill --admin HOST:PORT --pool P --backend B --duration 60s
// [--token T]`: starts a simulate_down drill through a running ballast's
// admin API (POST /drills) and prints its answer. Exit 0 when it started,
// 1 when ballast refused or could not be reached, 2 on a usage error.
#pragma once

namespace ballast {

int drillCommand(int argc, char** argv);

}  // namespace ballast
