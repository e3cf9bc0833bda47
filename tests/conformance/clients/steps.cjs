// What every client scenario of tests/conformance shares: the result document, steps that record their
// outcome (ok with a value, or the HTTP status and error code the SDK raised) instead of aborting, polling,
// and printing the result as the last line of stdout (read by clients.run_node).
"use strict";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function scenario(apiVersion) {
  const result = { apiVersion, steps: {} };

  async function step(name, fn) {
    try {
      const value = await fn();
      result.steps[name] = { ok: true, value: value === undefined ? null : value };
      return value;
    } catch (err) {
      result.steps[name] = {
        ok: false,
        status: err.statusCode || null,
        code: (err.body && err.body.code) || err.code || null,
        message: String((err.body && err.body.message && err.body.message.value) || err.message || err).slice(0, 500),
      };
      return undefined;
    }
  }

  async function until(what, probe, timeoutMs = 60000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      last = await probe();
      if (last) return last;
      await sleep(200);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  function run(main) {
    main()
      .catch((err) => {
        result.fatal = String(err && err.stack ? err.stack : err);
      })
      .finally(() => {
        process.stdout.write(JSON.stringify(result) + "\n");
      });
  }

  return { result, step, until, run };
}

module.exports = { scenario, sleep };
