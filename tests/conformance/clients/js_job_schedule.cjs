// A recurring job schedule driven by Microsoft's JavaScript SDK (@azure/batch, npm).
//
// Owned by tests/conformance: run by test_js_job_schedule.py against an emulator started with clock control.
// Every step records its outcome (ok, or the HTTP status and error code the SDK raised) instead of aborting;
// the Python test asserts on the JSON this prints to stdout. The clock is moved through the emulator's admin
// route (not part of Batch), so the second run of an hourly schedule is seen at once.
//
// Input (environment): BATCH_URL, BATCH_ACCOUNT, BATCH_KEY, POOL_ID, SCHEDULE_ID.
"use strict";
const { BatchServiceClient, BatchSharedKeyCredentials } = require("@azure/batch");
const { scenario } = require("./steps.cjs");

const env = process.env;
const client = new BatchServiceClient(new BatchSharedKeyCredentials(env.BATCH_ACCOUNT, env.BATCH_KEY), env.BATCH_URL);
const poolId = env.POOL_ID;
const scheduleId = env.SCHEDULE_ID;
const { step, until, run } = scenario(client.apiVersion);

async function advanceClock(seconds) {
  const answer = await fetch(`${env.BATCH_URL}/_localbatch/clock`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ advanceSeconds: seconds }),
  });
  if (!answer.ok) throw new Error(`clock route answered ${answer.status}`);
  return (await answer.json()).offsetSeconds;
}

const jobsOfSchedule = async () => (await client.job.listFromJobSchedule(scheduleId)).map((j) => j.id).sort();
const shape = (s) => ({
  state: s.state,
  previousState: s.previousState || null,
  recentJob: s.executionInfo && s.executionInfo.recentJob ? s.executionInfo.recentJob.id : null,
  nextRunTime: s.executionInfo && s.executionInfo.nextRunTime ? new Date(s.executionInfo.nextRunTime).toISOString() : null,
  endTime: s.executionInfo && s.executionInfo.endTime ? new Date(s.executionInfo.endTime).toISOString() : null,
  creationTime: new Date(s.creationTime).toISOString(),
  eTag: s.eTag,
});

async function main() {
  await step("createPool", () =>
    client.pool
      .add({
        id: poolId,
        vmSize: "standard_d2s_v3",
        virtualMachineConfiguration: {
          imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts" },
          nodeAgentSKUId: "batch.node.ubuntu 22.04",
        },
        targetDedicatedNodes: 1,
      })
      .then(() => null),
  );
  await step("createSchedule", () =>
    client.jobSchedule
      .add({
        id: scheduleId,
        schedule: { recurrenceInterval: "PT1H" },
        jobSpecification: {
          poolInfo: { poolId },
          priority: 3,
          jobPreparationTask: { commandLine: "/bin/sh -c 'echo prep'" },
          jobReleaseTask: { commandLine: "/bin/sh -c 'echo release'" },
          metadata: [{ name: "run", value: "hourly" }],
        },
      })
      .then(() => null),
  );
  await step("exists", () => client.jobSchedule.exists(scheduleId).then((r) => r.body));
  await step("firstJob", () => until("the first job", async () => ((await jobsOfSchedule()).length === 1 ? jobsOfSchedule() : null)));
  await step("created", async () => shape(await client.jobSchedule.get(scheduleId)));
  await step("jobOne", async () => {
    const job = await client.job.get(`${scheduleId}:job-1`);
    return {
      priority: job.priority,
      poolId: job.executionInfo.poolId,
      prep: job.jobPreparationTask ? job.jobPreparationTask.commandLine : null,
      metadata: job.metadata,
    };
  });
  await step("listed", async () => (await client.jobSchedule.list({ jobScheduleListOptions: { filter: `id eq '${scheduleId}'` } })).map((s) => s.id));
  await step("patch", () =>
    client.jobSchedule.patch(scheduleId, { metadata: [{ name: "patched", value: "yes" }] }).then(() => null),
  );
  await step("disable", () => client.jobSchedule.disable(scheduleId).then(() => null));
  await step("disabledState", async () => (await client.jobSchedule.get(scheduleId)).state);
  await step("enable", () => client.jobSchedule.enable(scheduleId).then(() => null));
  await step("terminateJobOne", () => client.job.terminate(`${scheduleId}:job-1`).then(() => null));
  await step("advanceClock", () => advanceClock(3600));
  await step("secondJob", () => until("the second job", async () => ((await jobsOfSchedule()).length === 2 ? jobsOfSchedule() : null)));
  await step("afterSecond", async () => shape(await client.jobSchedule.get(scheduleId)));
  await step("addTask", () =>
    client.task.add(`${scheduleId}:job-2`, { id: "t1", commandLine: "/bin/sh -c 'echo run'" }).then(() => null),
  );
  await step("taskDone", () =>
    until("task t1 completed", async () => {
      const task = await client.task.get(`${scheduleId}:job-2`, "t1");
      return task.state === "completed" ? task.executionInfo.exitCode + 0 === 0 : null;
    }),
  );
  await step("terminate", () => client.jobSchedule.terminate(scheduleId).then(() => null));
  await step("completed", () =>
    until("the schedule completed", async () => {
      const s = await client.jobSchedule.get(scheduleId);
      return s.state === "completed" ? shape(s) : null;
    }),
  );
  await step("jobTwo", async () => {
    const job = await client.job.get(`${scheduleId}:job-2`);
    const status = await client.job.listPreparationAndReleaseTaskStatus(`${scheduleId}:job-2`);
    return {
      state: job.state,
      terminateReason: job.executionInfo.terminateReason,
      releaseExit: status.map((e) => e.jobReleaseTaskExecutionInfo && e.jobReleaseTaskExecutionInfo.exitCode),
    };
  });
  await step("deleteSchedule", () => client.jobSchedule.deleteMethod(scheduleId).then(() => null));
  await step("gone", () =>
    until("the schedule gone", async () => {
      try {
        await client.jobSchedule.get(scheduleId);
        return null;
      } catch (err) {
        return err.statusCode === 404 ? { code: err.body && err.body.code, jobs: (await client.job.list()).map((j) => j.id) } : null;
      }
    }),
  );
  await step("deletePool", () => client.pool.deleteMethod(poolId).then(() => null));
}

run(main);
