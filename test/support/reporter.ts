// Mocha's spec reporter plus the plain closing line CI reads: "mocha: N passed, N failed, N skipped".
// Skipped tests are counted as failures by the house rules, so they also fail the run.
import Mocha from 'mocha';

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, () => { passed++; });
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, () => { failed++; });
    runner.on(Mocha.Runner.constants.EVENT_TEST_PENDING, () => { skipped++; });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      process.stdout.write(`\nmocha: ${passed} passed, ${failed + skipped} failed, ${skipped} skipped\n`);
      if (skipped > 0) process.exitCode = 1;
    });
  }
}

export = SpecWithSummary;
