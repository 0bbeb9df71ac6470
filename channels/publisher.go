package channels

import (
	"context"
	"encoding/json"
	"strconv"
)

// DefaultPublisher routes by the event data's fields, first match wins:
// "userId" → user/<id> (a private notification), "projectId" →
// project/<id>, otherwise "authenticated". Anonymous connections never
// receive what it publishes.
func DefaultPublisher(_ context.Context, _ string, data any) []string {
	if id, ok := Field(data, "userId"); ok {
		return []string{User(id)}
	}
	if id, ok := Field(data, "projectId"); ok {
		return []string{Project(id)}
	}
	return []string{Authenticated}
}

// RoomPublisher routes by the data's "roomId" field to room/<id>, and
// publishes nothing when the field is missing: chat messages without a room
// must not leak to everyone.
func RoomPublisher(_ context.Context, _ string, data any) []string {
	if id, ok := Field(data, "roomId"); ok {
		return []string{Room(id)}
	}
	return nil
}

// Field reads a routing field from event data: a map[string]any (as
// decoded from JSON or MessagePack), or any value that encodes to a JSON
// object (structs with json tags). Strings are used as they are, integers in
// decimal; empty strings and other types count as missing.
func Field(data any, name string) (string, bool) {
	m, ok := data.(map[string]any)
	if !ok {
		raw, err := json.Marshal(data)
		if err != nil || len(raw) == 0 || raw[0] != '{' {
			return "", false
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return "", false
		}
	}
	switch v := m[name].(type) {
	case string:
		return v, v != ""
	case float64:
		if v == float64(int64(v)) {
			return strconv.FormatInt(int64(v), 10), true
		}
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case int8, int16, int32, uint8, uint16, uint32:
		n, _ := strconv.ParseInt(jsonNumber(v), 10, 64)
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
