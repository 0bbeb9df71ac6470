package parser

import (
	"encoding/binary"
	"errors"
)

// maxMsgPackDepth bounds container nesting in an incoming message, so a
// hostile message cannot drive the decoder's recursion deep.
const maxMsgPackDepth = 100

var (
	errMsgPackTruncated = errors.New("msgpack: truncated or declares more data than it holds")
	errMsgPackInvalid   = errors.New("msgpack: invalid type byte 0xc1")
	errMsgPackDepth     = errors.New("msgpack: nesting deeper than 100")
)

// checkMsgPack walks one MessagePack value without allocating and rejects it
// if any declared length exceeds the bytes that remain (every element takes
// at least one byte), or nesting is too deep. The decoder preallocates from
// declared lengths, so without this check five bytes (an array32 header)
// could demand gigabytes.
func checkMsgPack(b []byte) error {
	var stack [maxMsgPackDepth + 1]uint64 // items left to read at each depth
	depth := 0
	stack[0] = 1
	i := 0
	for {
		for stack[depth] == 0 {
			if depth == 0 {
				if i != len(b) {
					return errTrailing
				}
				return nil
			}
			depth--
		}
		stack[depth]--
		if i >= len(b) {
			return errMsgPackTruncated
		}
		t := b[i]
		i++
		var skip, items uint64 // payload bytes to skip, child items to read
		switch {
		case t <= 0x7f, t >= 0xe0, t == 0xc0, t == 0xc2, t == 0xc3:
		case t >= 0x80 && t <= 0x8f:
			items = 2 * uint64(t&0x0f)
		case t >= 0x90 && t <= 0x9f:
			items = uint64(t & 0x0f)
		case t >= 0xa0 && t <= 0xbf:
			skip = uint64(t & 0x1f)
		case t == 0xc1:
			return errMsgPackInvalid
		case t == 0xc4, t == 0xd9: // bin8, str8
			n, ok := readLen(b, &i, 1)
			if !ok {
				return errMsgPackTruncated
			}
			skip = n
		case t == 0xc5, t == 0xda: // bin16, str16
			n, ok := readLen(b, &i, 2)
			if !ok {
				return errMsgPackTruncated
			}
			skip = n
		case t == 0xc6, t == 0xdb: // bin32, str32
			n, ok := readLen(b, &i, 4)
			if !ok {
				return errMsgPackTruncated
			}
			skip = n
		case t == 0xc7, t == 0xc8, t == 0xc9: // ext8/16/32: length, then a type byte
			n, ok := readLen(b, &i, 1<<(t-0xc7))
			if !ok {
				return errMsgPackTruncated
			}
			skip = n + 1
		case t == 0xca, t == 0xce, t == 0xd2: // float32, uint32, int32
			skip = 4
		case t == 0xcb, t == 0xcf, t == 0xd3: // float64, uint64, int64
			skip = 8
		case t == 0xcc, t == 0xd0:
			skip = 1
		case t == 0xcd, t == 0xd1:
			skip = 2
		case t >= 0xd4 && t <= 0xd8: // fixext 1, 2, 4, 8, 16 plus the type byte
			skip = 1 + 1<<(t-0xd4)
		case t == 0xdc, t == 0xde: // array16, map16
			n, ok := readLen(b, &i, 2)
			if !ok {
				return errMsgPackTruncated
			}
			items = n
			if t == 0xde {
				items *= 2
			}
		case t == 0xdd, t == 0xdf: // array32, map32
			n, ok := readLen(b, &i, 4)
			if !ok {
				return errMsgPackTruncated
			}
			items = n
			if t == 0xdf {
				items *= 2
			}
		}
		remaining := uint64(len(b) - i)
		if skip > remaining || items > remaining {
			return errMsgPackTruncated
		}
		i += int(skip)
		if items > 0 {
			if depth == maxMsgPackDepth {
				return errMsgPackDepth
			}
			depth++
			stack[depth] = items
		}
	}
}

// readLen reads a big-endian length of size bytes at *i.
func readLen(b []byte, i *int, size int) (uint64, bool) {
	if len(b)-*i < size {
		return 0, false
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(b[*i])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b[*i:]))
	case 4:
		n = uint64(binary.BigEndian.Uint32(b[*i:]))
	}
	*i += size
	return n, true
}
