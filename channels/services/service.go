package services

import (
	"context"
	"math"
	"strconv"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/channels"
	"github.com/allspark/allspark/internal/events"
)

// The methods a service may implement, one interface each, so a service
// has exactly the methods it means to offer. Every method gets the call's
// context (done when the calling connection ends) and its Params. A
// result is sent to the client as its JSON (or MessagePack) encoding; an
// error as a Feathers error (see Error).
type (
	// Finder lists records: find(params).
	Finder interface {
		Find(ctx context.Context, p Params) (any, error)
	}
	// Getter reads one record: get(id, params).
	Getter interface {
		Get(ctx context.Context, id ID, p Params) (any, error)
	}
	// Creator adds records: create(data, params). Data may be an array
	// (several records), as Feathers allows.
	Creator interface {
		Create(ctx context.Context, data Data, p Params) (any, error)
	}
	// Updater replaces a record: update(id, data, params).
	Updater interface {
		Update(ctx context.Context, id ID, data Data, p Params) (any, error)
	}
	// Patcher merges into a record, or into every record the query
	// selects when id is null: patch(id, data, params).
	Patcher interface {
		Patch(ctx context.Context, id ID, data Data, p Params) (any, error)
	}
	// Remover deletes a record, or the records the query selects when id
	// is null: remove(id, params).
	Remover interface {
		Remove(ctx context.Context, id ID, p Params) (any, error)
	}
)

// Params is what a method knows about its call besides its arguments.
type Params struct {
	// Query is the client's params.query; never nil (an empty map when
	// the client sent none).
	Query map[string]any
	// Spark is the connection that called (Feathers' params.connection).
	Spark *allspark.Spark
	// Identity is who the connection logged in as (channels.Login), and
	// Authenticated whether it did.
	Identity      channels.Identity
	Authenticated bool
}

// ID is a record id as the client sent it: a string, a number, or null
// (patch and remove of every record the query selects).
type ID struct{ v any }

// NewID makes an ID of a string, a number or nil, for calling a method
// from Go (tests).
func NewID(v any) ID { return ID{v} }

// validID reads an id argument: strings, numbers and null are ids;
// objects, arrays and booleans are not.
func validID(v any) (ID, bool) {
	switch v.(type) {
	case nil, string:
		return ID{v}, true
	}
	if _, ok := number(v); ok {
		return ID{v}, true
	}
	return ID{}, false
}

// number reads any numeric value a parser produces.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	if i, ok := events.Integer(v); ok {
		return float64(i), true
	}
	if u, ok := v.(uint64); ok {
		return float64(u), true
	}
	return 0, false
}

// IsNull reports whether the id is null: the call is about every record
// the query selects.
func (id ID) IsNull() bool { return id.v == nil }

// Value is the id as decoded: a string, a number (float64 from JSON, a
// sized integer from MessagePack) or nil.
func (id ID) Value() any { return id.v }

// String is the id as text: the string itself, a whole number in
// decimal, "" for null.
func (id ID) String() string {
	switch v := id.v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	if i, ok := id.Int(); ok {
		return strconv.FormatInt(i, 10)
	}
	f, _ := number(id.v)
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Int reads the id as a whole number: a number without a fraction, or a
// string holding one in decimal (ids in URLs are strings).
func (id ID) Int() (int64, bool) {
	if s, ok := id.v.(string); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	if i, ok := events.Integer(id.v); ok {
		return i, true
	}
	f, ok := number(id.v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// Data is the record data a client sent to create, update or patch.
type Data struct{ v any }

// NewData wraps a value as Data, for calling a method from Go (tests).
func NewData(v any) Data { return Data{v} }

// Value is the data as the server's parser decoded it (map[string]any for
// a JSON object, []any for an array).
func (d Data) Value() any { return d.v }

// Decode converts the data into dst (a pointer) strictly: wrong types,
// unknown object fields and trailing data fail with a BadRequest *Error
// naming the problem, which a method can return as it is.
func (d Data) Decode(dst any) error {
	if err := events.Decode(d.v, dst); err != nil {
		return &Error{Code: BadRequest, Message: "invalid data: " + err.Error()}
	}
	return nil
}
