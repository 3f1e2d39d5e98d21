// `ballast postmortem`: a postmortem draft written from the journal alone
// (lb/base/journal.h, lb/stats/incidents.h): what the machine knows
// (impact, detection, recovery, timeline, error-rate chart) filled in, and
// empty sections for what only people know.
#pragma once

namespace ballast {

// argv: the arguments after "postmortem". Prints the draft on stdout;
// returns 0, 1 (no journal or no incident found) or 2 (usage).
int runPostmortem(int argc, char** argv);

}  // namespace ballast
