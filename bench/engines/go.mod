module github.com/allspark/allspark/bench/engines

go 1.26

require (
	github.com/coder/websocket v1.8.15 // indirect
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/ws v1.5.0 // indirect
	github.com/klauspost/compress v1.17.9 // indirect
	github.com/lesismal/nbio v1.6.12 // indirect
	github.com/lxzan/gws v1.8.9 // indirect
)
