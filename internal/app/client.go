package app

import (
	"flag"
	"io"
	"os"
	"path/filepath"
)

// ClientCommand is the subcommand that writes the client library instead of
// serving: `allspark client > primus.js`, as Primus's save() does.
const ClientCommand = "client"

// Client is `allspark client`: it loads the configuration exactly as Run
// does (same flags, ALLSPARK_* variables and file) and writes the bytes the
// configured server would serve at <pathname>/primus.js to stdout, or with
// --out FILE to FILE, atomically. It builds the server the way Run does, so
// the pathname, ping timeout, parser and the client parts of any plugin the
// binary installs are all baked in; it never listens. --help returns
// flag.ErrHelp after printing the usage; configuration errors wrap
// ErrConfig; a failed write is returned as is.
func Client(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var out string
	c, err := load(args, getenv, stderr, writeClientUsage, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "write the library to this file (atomically) instead of stdout")
	})
	if err != nil {
		return err
	}
	a, err := New(c, nil)
	if err != nil {
		return err
	}
	body := a.Server().Library().Body
	// Nothing is listening, but the server may hold timers: release them.
	if err := a.Server().Close(); err != nil {
		return err
	}
	if out == "" || out == "-" {
		_, err := stdout.Write(body)
		return err
	}
	return writeFileAtomic(out, body)
}

// writeFileAtomic writes b to a temporary file beside path and renames it
// over path, so a page or a build step reading path never sees half a
// library, and a failed write leaves the old file in place.
func writeFileAtomic(path string, b []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// CreateTemp makes the file private; the library is public, served to
	// every browser, so give it a static asset's usual mode.
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// writeClientUsage is `allspark client --help`.
func writeClientUsage(w io.Writer) {
	_, _ = io.WriteString(w, `Usage: allspark client [flags] [--out FILE]

Writes the client library the server would serve at <pathname>/primus.js, with
the same configuration, to stdout (or FILE), and exits; nothing listens.
The library has the pathname, the ping timeout (1.5 x --ping-interval), the
parser and the client parts of the binary's plugins baked in, so build it with
the flags, ALLSPARK_* variables or --config file the server runs with:

  allspark client --pathname /rt > public/primus.js
  ALLSPARK_PATHNAME=/rt allspark client --out public/primus.js

Flags:
  --out FILE
        write to FILE (a temporary file beside it, then renamed over it)
        instead of stdout; "-" is stdout. Command line only.
  --pathname, --ping-interval, --parser, --config and every other flag of
        allspark (see allspark --help), with the same variables and defaults.

Exit status: 0 written, 2 configuration error, 1 write error.
`)
}
