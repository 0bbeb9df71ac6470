package parser

import "errors"

var errTrailing = errors.New("trailing bytes after the value")
