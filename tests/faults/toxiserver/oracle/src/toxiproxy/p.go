package toxiproxy

import (
	"encoding/json"
	"io"

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
