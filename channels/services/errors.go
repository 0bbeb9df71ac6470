package services

import (
	"context"
	"errors"
	"fmt"
)

// Error codes of the Feathers error classes (the HTTP status each stands
// for); Error.Code holds one.
const (
	BadRequest       = 400
	NotAuthenticated = 401
	PaymentError     = 402
	Forbidden        = 403
	NotFound         = 404
	MethodNotAllowed = 405
	NotAcceptable    = 406
	Timeout          = 408
	Conflict         = 409
	Gone             = 410
	LengthRequired   = 411
	Unprocessable    = 422
	TooManyRequests  = 429
	GeneralError     = 500
	NotImplemented   = 501
	BadGateway       = 502
	Unavailable      = 503
)

// classes names each code's Feathers error class: its name and className.
var classes = map[int][2]string{
	BadRequest:       {"BadRequest", "bad-request"},
	NotAuthenticated: {"NotAuthenticated", "not-authenticated"},
	PaymentError:     {"PaymentError", "payment-error"},
	Forbidden:        {"Forbidden", "forbidden"},
	NotFound:         {"NotFound", "not-found"},
	MethodNotAllowed: {"MethodNotAllowed", "method-not-allowed"},
	NotAcceptable:    {"NotAcceptable", "not-acceptable"},
	Timeout:          {"Timeout", "timeout"},
	Conflict:         {"Conflict", "conflict"},
	Gone:             {"Gone", "gone"},
	LengthRequired:   {"LengthRequired", "length-required"},
	Unprocessable:    {"Unprocessable", "unprocessable"},
	TooManyRequests:  {"TooManyRequests", "too-many-requests"},
	GeneralError:     {"GeneralError", "general-error"},
	NotImplemented:   {"NotImplemented", "not-implemented"},
	BadGateway:       {"BadGateway", "bad-gateway"},
	Unavailable:      {"Unavailable", "unavailable"},
}

// Error is a Feathers error: what a method returns to fail with a given
// class, and what the client receives, as the object
// {name, message, code, className, data, errors} that @feathersjs/errors
// turns back into an instance of that class (err.name, err.code,
// err.className, err.data, err instanceof NotFound).
type Error struct {
	// Code is one of the codes above; any other is sent as GeneralError.
	Code    int
	Message string
	// Data and Errors are sent as the error's data and errors (Feathers
	// puts validation details there); nil sends none.
	Data   any
	Errors any
}

// NewError returns an *Error of the class code with a formatted message.
func NewError(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	return fmt.Sprintf("services: %s (%d): %s", e.Name(), e.code(), e.Message)
}

// code is the code sent: Code when it names a class, else 500.
func (e *Error) code() int {
	if _, ok := classes[e.Code]; ok {
		return e.Code
	}
	return GeneralError
}

// Name is the error's Feathers class ("NotFound").
func (e *Error) Name() string { return classes[e.code()][0] }

// ClassName is the class's kebab-case name ("not-found").
func (e *Error) ClassName() string { return classes[e.code()][1] }

// wire is the error as the client receives it.
type wire struct {
	Name      string `json:"name" msgpack:"name"`
	Message   string `json:"message" msgpack:"message"`
	Code      int    `json:"code" msgpack:"code"`
	ClassName string `json:"className" msgpack:"className"`
	Data      any    `json:"data,omitempty" msgpack:"data,omitempty"`
	Errors    any    `json:"errors,omitempty" msgpack:"errors,omitempty"`
}

func (e *Error) wire() wire {
	return wire{Name: e.Name(), Message: e.Message, Code: e.code(), ClassName: e.ClassName(), Data: e.Data, Errors: e.Errors}
}

// asError turns what a method returned into the *Error sent: an *Error as
// it is, a context's deadline as Timeout, anything else as GeneralError
// with its text.
func asError(err error) *Error {
	var fe *Error
	switch {
	case errors.As(err, &fe):
		return fe
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: Timeout, Message: err.Error()}
	}
	return &Error{Code: GeneralError, Message: err.Error()}
}
