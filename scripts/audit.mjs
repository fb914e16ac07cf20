// `npm audit` over production dependencies: fails on any high or critical advisory. Where the
// registry has no advisory endpoint (an offline mirror answers 405), it says the audit could not
// run and exits 0: it cannot pass or fail what it cannot see, and it says so in CI's log.
import { spawnSync } from 'node:child_process'
import { pathToFileURL } from 'node:url'

/** What `npm audit --json` output means for CI: an exit code and the lines to print. */
export function auditVerdict(stdout) {
  let report
  try {
    report = JSON.parse(stdout)
  } catch {
    return { code: 0, lines: ['npm audit: no report; production dependencies NOT audited'] }
  }
  if (!report.metadata) {
    const why = report.error?.summary || report.message || 'no advisory data'
    return { code: 0, lines: [`npm audit: the registry gave no advisories (${why}); production dependencies NOT audited`] }
  }
  const v = report.metadata.vulnerabilities
  const lines = [`npm audit (production dependencies): ${v.critical} critical, ${v.high} high, ${v.moderate} moderate, ${v.low} low`]
  for (const [name, entry] of Object.entries(report.vulnerabilities ?? {})) {
    if (entry.severity === 'high' || entry.severity === 'critical') lines.push(`  ${entry.severity}: ${name} ${entry.range}`)
  }
  return { code: v.critical + v.high > 0 ? 1 : 0, lines }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8', timeout: 120_000 })
  const { code, lines } = auditVerdict(run.stdout ?? '')
  for (const line of lines) console.log(line)
  process.exit(code)
}
