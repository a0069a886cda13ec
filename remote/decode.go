package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// decodeJSON decodes a response body into out, liberally: when the strict
// decode trips over a value of the wrong JSON type ("True" for a bool, "42"
// for an int, 3.10 for a string), the body is decoded generically, such
// values are coerced to the types of out's fields, and decoding is redone.
// Unknown fields are ignored and nulls leave zero values, as usual.
func decodeJSON(data []byte, out any) error {
	err := json.Unmarshal(data, out)
	var typeErr *json.UnmarshalTypeError
	if err == nil || !errors.As(err, &typeErr) {
		return err
	}
	var generic any
	if json.Unmarshal(data, &generic) != nil {
		return err
	}
	fixed, mErr := json.Marshal(coerce(generic, reflect.TypeOf(out)))
	if mErr != nil {
		return err
	}
	// Start from a clean value: the failed decode may have filled part of
	// it. Leave it clean if decoding fails again.
	v := reflect.ValueOf(out).Elem()
	v.Set(reflect.Zero(v.Type()))
	if err := json.Unmarshal(fixed, out); err != nil {
		v.Set(reflect.Zero(v.Type()))
		return err
	}
	return nil
}

// decoder returns a call.decode function that decodes the body into out.
// An empty body is an error for a GET (the answer was lost: retry), but
// fine for other methods, whose answers the API does not always document
// (PATCH of a setting may answer 200 with nothing).
func decoder(out any) func(*http.Response, []byte) error {
	return func(resp *http.Response, body []byte) error {
		if len(bytes.TrimSpace(body)) == 0 && resp.Request != nil && resp.Request.Method != http.MethodGet {
			return nil
		}
		return decodeJSON(body, out)
	}
}

// coerce converts scalars in v (a generic JSON value) to the JSON types that
// t expects, where the conversion is unambiguous.
func coerce(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, ok := jsonName(f)
			if !ok {
				continue
			}
			if fv, present := m[name]; present {
				m[name] = coerce(fv, f.Type)
			}
		}
		return m
	case reflect.Slice, reflect.Array:
		if l, ok := v.([]any); ok {
			for i := range l {
				l[i] = coerce(l[i], t.Elem())
			}
		}
		return v
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for k := range m {
				m[k] = coerce(m[k], t.Elem())
			}
		}
		return v
	case reflect.Bool:
		return coerceBool(v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return coerceNumber(v, t)
	case reflect.String:
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			return strconv.FormatBool(x)
		}
	}
	return v
}

// jsonName returns the JSON member name of a struct field.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, true
}

// coerceBool accepts Python's True/False (form-style), "true", "1", numbers.
func coerceBool(v any) any {
	switch x := v.(type) {
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1", "yes", "on":
			return true
		case "false", "0", "no", "off", "", "none", "null":
			return false
		}
	case float64:
		return x != 0
	}
	return v
}

func coerceNumber(v any, t reflect.Type) any {
	switch x := v.(type) {
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			v = f
		}
	case bool:
		if x {
			return 1
		}
		return 0
	}
	// A fraction for an integer field (1.0 is fine; 1.5 is not): truncate.
	if f, ok := v.(float64); ok && t.Kind() != reflect.Float32 && t.Kind() != reflect.Float64 {
		return float64(int64(f))
	}
	return v
}
