// Package result formats and parses the harness's machine-readable output:
// one "RESULT key=value …" line per measurement, and the Allspark/peer ratio
// table computed from those lines.
package result
