"use strict";
// Reads the server's memory and CPU from /proc (given its pid) and the generator's own CPU,
// so every scenario reports who was busy: a saturated generator would make the figures lie.

const fs = require("fs");
const { execFileSync } = require("child_process");

let clkTck = null;
function ticksPerSecond() {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    } catch (e) {
      clkTck = 100; // USER_HZ on every Linux architecture we run on
    }
  }
  return clkTck;
}

/** `pid` and its descendants: a server's work done in child processes (chatserver's store) is its cost too. */
function processTree(pid) {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    let tasks = [];
    try {
      tasks = fs.readdirSync(`/proc/${pids[i]}/task`);
    } catch (e) {
      continue; // ended meanwhile
    }
    for (const task of tasks) {
      try {
        const children = fs.readFileSync(`/proc/${pids[i]}/task/${task}/children`, "utf8").trim();
        if (children) pids.push(...children.split(/\s+/).map(Number));
      } catch (e) {
        // the thread ended meanwhile
      }
    }
  }
  return pids;
}

function readOrNull(path) {
  try {
    return fs.readFileSync(path, "utf8");
  } catch (e) {
    return null; // a child that ended between listing and reading
  }
}

/** Resident set size of `pid` and its descendants in KiB (VmRSS), or null without a pid. */
function rssKb(pid) {
  if (!pid) return null;
  let total = 0;
  for (const p of processTree(pid)) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readOrNull(`/proc/${p}/status`) || "");
    if (m) total += Number(m[1]);
  }
  return total;
}

/** [utime, stime] of `pid` and its descendants (all their threads) in seconds, or null without a pid. */
function cpuTimes(pid) {
  if (!pid) return null;
  let user = 0;
  let system = 0;
  for (const p of processTree(pid)) {
    const stat = readOrNull(`/proc/${p}/stat`);
    if (stat === null) continue;
    // Fields after the ")" that closes comm: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    user += Number(fields[11]);
    system += Number(fields[12]);
  }
  return [user / ticksPerSecond(), system / ticksPerSecond()];
}

/** utime+stime of `pid` in seconds, or null without a pid. */
function cpuSeconds(pid) {
  const t = cpuTimes(pid);
  return t && t[0] + t[1];
}

/** Busy seconds of the whole machine (all CPUs, everything but idle and iowait). */
function machineBusySeconds() {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((x, y) => x + y, 0); // user..steal; guest is inside user
  return (total - f[3] - f[4]) / ticksPerSecond();
}

/** Snapshot of wall time, server CPU and generator CPU; diff two with `usage`. */
function snapshot(pid) {
  const self = process.cpuUsage();
  const server = cpuTimes(pid);
  return {
    wall: performance.now() / 1000,
    server: server && server[0] + server[1],
    serverSys: server && server[1],
    gen: (self.user + self.system) / 1e6,
    genSys: self.system / 1e6,
    machine: machineBusySeconds(),
  };
}

/** CPU use between two snapshots: seconds and fraction of one core, server and generator. */
function usage(a, b) {
  const wall = b.wall - a.wall;
  const server = a.server === null ? null : b.server - a.server;
  const gen = b.gen - a.gen;
  // Whatever else ran meanwhile (kernel threads, other processes): noise in the figures.
  const other = b.machine - a.machine - (server || 0) - gen;
  const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  return {
    wall_s: r3(wall),
    server_cpu_s: r3(server),
    server_sys_s: server === null ? null : r3(b.serverSys - a.serverSys),
    server_cpu_frac: server === null ? null : r3(server / wall),
    gen_cpu_s: r3(gen),
    gen_sys_s: r3(b.genSys - a.genSys),
    gen_cpu_frac: r3(gen / wall),
    other_cpu_frac: r3(other / wall),
  };
}

module.exports = { rssKb, cpuSeconds, machineBusySeconds, snapshot, usage };
