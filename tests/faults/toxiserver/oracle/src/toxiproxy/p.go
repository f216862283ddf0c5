package toxiproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"toxics"

	"github.com/rs/zerolog"
)

type Proxy struct {
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	Enabled  bool   `json:"enabled"`
	Logger   *zerolog.Logger
}

func Populate(data io.Reader) error {
	input := []struct {
		Proxy
		Enabled *bool `json:"enabled"`
	}{}
	return json.NewDecoder(data).Decode(&input)
}

func Update(data io.Reader) error {
	input := Proxy{}
	return json.NewDecoder(data).Decode(&input)
}

// The toxics of every proxy name, decoded as 2.12's ToxicCollection decodes them.
var collection = map[string][]*toxics.ToxicWrapper{}

var ErrInvalidStream = errors.New("stream was invalid, can be either upstream or downstream")
var ErrInvalidToxicType = errors.New("invalid toxic type")
var ErrToxicExists = errors.New("toxic already exists")
var ErrToxicNotFound = errors.New("toxic not found")

// AddToxicJson is toxic_collection.go's, before 2.13's validateToxic: the wrapper first (its
// attributes into a NoopToxic), then the attributes into the toxic of the type.
func AddToxicJson(proxy string, data io.Reader) (*toxics.ToxicWrapper, error, bool) {
	var buffer bytes.Buffer
	wrapper := &toxics.ToxicWrapper{Stream: "downstream", Toxicity: 1.0, Toxic: new(toxics.NoopToxic)}
	if err := json.NewDecoder(io.TeeReader(data, &buffer)).Decode(wrapper); err != nil {
		return nil, err, true
	}
	if s := strings.ToLower(wrapper.Stream); s != "upstream" && s != "downstream" {
		return nil, ErrInvalidStream, false
	}
	if wrapper.Name == "" {
		wrapper.Name = fmt.Sprintf("%s_%s", wrapper.Type, wrapper.Stream)
	}
	if toxics.New(wrapper) == nil {
		return nil, ErrInvalidToxicType, false
	}
	for _, t := range collection[proxy] {
		if t.Name == wrapper.Name {
			return nil, ErrToxicExists, false
		}
	}
	attrs := &struct {
		Attributes interface{} `json:"attributes"`
	}{wrapper.Toxic}
	if err := json.NewDecoder(&buffer).Decode(attrs); err != nil {
		return nil, err, true
	}
	collection[proxy] = append(collection[proxy], wrapper)
	return wrapper, nil, false
}

// UpdateToxicJson is 2.12's: decoded straight into the live toxic.
func UpdateToxicJson(proxy, name string, data io.Reader) (*toxics.ToxicWrapper, error, bool) {
	for _, toxic := range collection[proxy] {
		if toxic.Name == name {
			attrs := &struct {
				Attributes interface{} `json:"attributes"`
				Toxicity   float32     `json:"toxicity"`
			}{toxic.Toxic, toxic.Toxicity}
			if err := json.NewDecoder(data).Decode(attrs); err != nil {
				return nil, err, true
			}
			toxic.Toxicity = attrs.Toxicity
			return toxic, nil, false
		}
	}
	return nil, ErrToxicNotFound, false
}
