// The job preparation/release scenario driven by Microsoft's JavaScript SDK (@azure/batch, npm).
//
// Owned by tests/conformance: run by test_js_sdk.py against the local emulator. Every step (steps.cjs) records its
// outcome (ok, or the HTTP status and error code the SDK raised) instead of aborting, so one deviation
// does not hide the others; the Python test asserts on the JSON this prints to stdout.
//
// Input (environment): BATCH_URL, BATCH_ACCOUNT, BATCH_KEY, CONTAINER_URL (container URL with a write SAS),
// POOL_ID, JOB_ID.
"use strict";
const { BatchServiceClient, BatchSharedKeyCredentials } = require("@azure/batch");
const { scenario } = require("./steps.cjs");

const env = process.env;
const client = new BatchServiceClient(new BatchSharedKeyCredentials(env.BATCH_ACCOUNT, env.BATCH_KEY), env.BATCH_URL);
const poolId = env.POOL_ID;
const jobId = env.JOB_ID;
const { step, until, run } = scenario(client.apiVersion);

async function listAll(first, next) {
  const items = [];
  let page = await first();
  items.push(...page);
  while (page.odataNextLink) {
    page = await next(page.odataNextLink);
    items.push(...page);
  }
  return items;
}

const listNodes = () => listAll(() => client.computeNode.list(poolId), (l) => client.computeNode.listNext(l));
const listTasks = () => listAll(() => client.task.list(jobId), (l) => client.task.listNext(l));
const prepRelease = () =>
  listAll(
    () => client.job.listPreparationAndReleaseTaskStatus(jobId),
    (l) => client.job.listPreparationAndReleaseTaskStatusNext(l),
  );

// Each task reads what the preparation task left in the node's shared folder, adds its own line there,
// and writes out.txt, which the service uploads to the container when the task completes.
const taskCommand = (id) =>
  `/bin/sh -c 'cat "$AZ_BATCH_NODE_SHARED_DIR/prep.txt" > out.txt && echo ${id} >> out.txt && ` +
  `echo ${id} >> "$AZ_BATCH_NODE_SHARED_DIR/tasks.txt"'`;

async function main() {
  await step("createPool", async () => {
    await client.pool.add({
      id: poolId,
      vmSize: "standard_d2s_v3",
      virtualMachineConfiguration: {
        imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts" },
        nodeAgentSKUId: "batch.node.ubuntu 22.04",
      },
      targetDedicatedNodes: 2,
      taskSlotsPerNode: 2,
    });
  });
  await step("nodesIdle", () =>
    until("two idle nodes", async () => {
      const nodes = await listNodes();
      return nodes.length === 2 && nodes.every((n) => n.state === "idle") ? nodes.map((n) => n.id) : null;
    }),
  );
  await step("createJob", () =>
    client.job.add({
      id: jobId,
      poolInfo: { poolId },
      jobPreparationTask: {
        id: "prep",
        commandLine: `/bin/sh -c 'echo prepared-$AZ_BATCH_NODE_ID > "$AZ_BATCH_NODE_SHARED_DIR/prep.txt"'`,
        waitForSuccess: true,
      },
      jobReleaseTask: {
        id: "release",
        commandLine: `/bin/sh -c 'echo released >> "$AZ_BATCH_NODE_SHARED_DIR/tasks.txt"'`,
      },
    }).then(() => null),
  );
  await step("addTaskCollection", async () => {
    const tasks = ["t1", "t2", "t3", "t4"].map((id) => ({
      id,
      commandLine: taskCommand(id),
      outputFiles: [
        {
          filePattern: "out.txt",
          destination: { container: { containerUrl: env.CONTAINER_URL, path: `${id}/out.txt` } },
          uploadOptions: { uploadCondition: "taskcompletion" },
        },
      ],
    }));
    const answer = await client.task.addCollection(jobId, tasks);
    return answer.value.map((r) => ({ taskId: r.taskId, status: r.status }));
  });
  await step("tasksCompleted", () =>
    until("four completed tasks", async () => {
      const tasks = await listTasks();
      if (tasks.length !== 4 || !tasks.every((t) => t.state === "completed")) return null;
      return tasks.map((t) => ({
        id: t.id,
        exitCode: t.executionInfo && t.executionInfo.exitCode,
        result: t.executionInfo && t.executionInfo.result,
        nodeId: t.nodeInfo && t.nodeInfo.nodeId,
      }));
    }),
  );
  await step("terminateJob", () => client.job.terminate(jobId).then(() => null));
  await step("releaseCompleted", () =>
    until("release tasks completed on every node that ran the preparation task", async () => {
      const entries = await prepRelease();
      const done =
        entries.length > 0 &&
        entries.every((e) => e.jobReleaseTaskExecutionInfo && e.jobReleaseTaskExecutionInfo.state === "completed");
      return done
        ? entries.map((e) => ({
            nodeId: e.nodeId,
            prep: e.jobPreparationTaskExecutionInfo.state,
            prepExit: e.jobPreparationTaskExecutionInfo.exitCode,
            release: e.jobReleaseTaskExecutionInfo.state,
            releaseExit: e.jobReleaseTaskExecutionInfo.exitCode,
          }))
        : null;
    }),
  );
  await step("jobState", async () => (await client.job.get(jobId)).state);
  await step("deleteJob", () => client.job.deleteMethod(jobId).then(() => null));
  await step("deletePool", () => client.pool.deleteMethod(poolId).then(() => null));
}

run(main);
