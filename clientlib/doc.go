// Package clientlib embeds the browser client (TypeScript in js/, bundled by
// esbuild run as a Go tool) and renders the library the server serves at
// <pathname>/primus.js, with the server's settings baked in, as Primus's
// library() does.
//
// The bundles in dist/ are committed so that building the server needs no
// Node. Regenerate them with `go generate ./clientlib`; a test fails when
// they differ from a fresh build of js/src.
package clientlib

//go:generate go tool esbuild ../js/src/global.ts --bundle --minify --format=iife --target=es2020 --legal-comments=none --outfile=dist/primus.min.js
//go:generate go tool esbuild ../js/src/index.ts --bundle --format=esm --target=es2020 --legal-comments=none --outfile=dist/allspark.esm.mjs
