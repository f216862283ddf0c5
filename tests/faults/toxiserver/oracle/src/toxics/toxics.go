// Toxiproxy's toxic types as their attributes decode (toxics/*.go), with the registry's New.
package toxics

import "reflect"

type Toxic interface{}

type ToxicWrapper struct {
	Toxic    `json:"attributes"`
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Stream   string  `json:"stream"`
	Toxicity float32 `json:"toxicity"`
}

type NoopToxic struct{}
type LatencyToxic struct {
	Latency int64 `json:"latency"`
	Jitter  int64 `json:"jitter"`
}
type BandwidthToxic struct {
	Rate int64 `json:"rate"`
}
type SlowCloseToxic struct {
	Delay int64 `json:"delay"`
}
type TimeoutToxic struct {
	Timeout int64 `json:"timeout"`
}
type ResetToxic struct {
	Timeout int64 `json:"timeout"`
}
type SlicerToxic struct {
	AverageSize   int `json:"average_size"`
	SizeVariation int `json:"size_variation"`
	Delay         int `json:"delay"`
}
type LimitDataToxic struct {
	Bytes int64 `json:"bytes"`
}

var registry = map[string]Toxic{
	"noop": new(NoopToxic), "latency": new(LatencyToxic), "bandwidth": new(BandwidthToxic),
	"slow_close": new(SlowCloseToxic), "timeout": new(TimeoutToxic), "reset_peer": new(ResetToxic),
	"slicer": new(SlicerToxic), "limit_data": new(LimitDataToxic),
}

// New sets wrapper.Toxic to a fresh copy of the registered toxic of its type; nil if none.
func New(wrapper *ToxicWrapper) Toxic {
	kind, ok := registry[wrapper.Type]
	if !ok {
		return nil
	}
	fresh := reflect.New(reflect.TypeOf(kind).Elem())
	fresh.Elem().Set(reflect.ValueOf(kind).Elem())
	wrapper.Toxic = fresh.Interface()
	return wrapper.Toxic
}
