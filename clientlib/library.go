package clientlib

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

//go:embed dist/primus.min.js dist/allspark.esm.mjs
var dist embed.FS

// Settings are the server facts baked into the served library.
type Settings struct {
	Pathname      string // e.g. "/primus"
	PingTimeoutMS int64  // client watchdog; 0 turns it off
	Parser        string // the server's parser name; empty means "json"
	Plugins       []Plugin
}

// Plugin is the browser part of a server plugin: JavaScript run once with
// the client class in scope as `Primus`.
type Plugin struct {
	Name   string
	Source string
}

// Library is a rendered client library with its strong ETag.
type Library struct {
	Body []byte
	ETag string // quoted, e.g. "\"sha256-…\""
}

// Global returns the minified browser-global bundle (window.Primus).
func Global() []byte { return mustRead("dist/primus.min.js") }

// ESM returns the ES module bundle.
func ESM() []byte { return mustRead("dist/allspark.esm.mjs") }

func mustRead(name string) []byte {
	b, err := dist.ReadFile(name)
	if err != nil {
		panic("clientlib: embedded " + name + " missing: " + err.Error()) // a build defect, not input
	}
	return b
}

// Render bakes settings and plugins into the global bundle.
func Render(s Settings) Library {
	var b strings.Builder
	b.Write(Global())
	b.WriteString("\n;(function(Primus){\n")
	pathname, _ := json.Marshal(s.Pathname)
	ping := "false"
	if s.PingTimeoutMS > 0 {
		ping = strconv.FormatInt(s.PingTimeoutMS, 10)
	}
	parser := s.Parser
	if parser == "" {
		parser = "json"
	}
	parserJSON, _ := json.Marshal(parser)
	b.WriteString("Primus.defaults.pathname=" + string(pathname) + ";Primus.defaults.pingTimeout=" + ping +
		";Primus.defaults.parser=" + string(parserJSON) + ";\n")
	for _, p := range s.Plugins {
		name, _ := json.Marshal(p.Name)
		b.WriteString("/* plugin " + strings.ReplaceAll(string(name), "*/", "* /") + " */\n(function(Primus){\n")
		b.WriteString(p.Source)
		b.WriteString("\n})(Primus);\n")
	}
	b.WriteString("})(globalThis.Primus);\n")
	body := []byte(b.String())
	sum := sha256.Sum256(body)
	return Library{Body: body, ETag: `"sha256-` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}
}
