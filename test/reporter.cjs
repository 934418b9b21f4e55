'use strict';
// Mocha's spec output, closed by the one line CI reads: "N passed, N failed, N skipped".
// Skipped counts pending tests (it.skip / this.skip()); a failed hook counts as a failure.
const Mocha = require('mocha');

const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    runner.on(EVENT_TEST_PASS, () => { passed += 1; });
    runner.on(EVENT_TEST_FAIL, () => { failed += 1; });
    runner.on(EVENT_TEST_PENDING, () => { skipped += 1; });
    // Spec registered its epilogue on this event in super(), so this line prints after it.
    // Synchronously: mocha --exit ends the process right after the run-end listeners.
    runner.once(EVENT_RUN_END, () => {
      process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    });
  }
}

module.exports = SummaryReporter;
