import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** What the results were measured on: printed into RESULTS.md with every run. */
export function machineInfo(): string {
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unavailable';
    }
  };
  const free = sh('free', ['-h']).split('\n').slice(0, 2).join(' / ').replace(/\s+/g, ' ');
  return [
    `- date: ${new Date().toISOString()}`,
    `- cpu: \`nproc\` = ${sh('nproc', [])}, ${os.cpus()[0]?.model ?? 'unknown'}`,
    `- memory (\`free -h\`): ${free}`,
    `- node ${process.version}, ${os.type()} ${os.release()}`,
    `- load average when the section was written (1/5/15 min): ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} (other processes share this machine; see the reading below)`,
  ].join('\n');
}
