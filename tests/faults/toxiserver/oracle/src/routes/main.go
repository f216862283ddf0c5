// Toxiproxy 2.12's Routes() (api.go) on stub handlers: the router, middleware, http.Error and
// ProxyCreate's and PopulateJson's decoding, as Go and gorilla/mux answer them.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"
	"toxiproxy"
)

type Proxy = toxiproxy.Proxy

type ApiError struct {
	Message    string `json:"error"`
	StatusCode int    `json:"status"`
}

func (e *ApiError) Error() string { return e.Message }

func apiError(resp http.ResponseWriter, err error) bool {
	obj, ok := err.(*ApiError)
	if !ok && err != nil {
		obj = &ApiError{err.Error(), http.StatusInternalServerError}
	}
	if obj == nil {
		return false
	}
	data, _ := json.Marshal(obj)
	resp.Header().Set("Content-Type", "application/json")
	http.Error(resp, string(data), obj.StatusCode)
	return true
}

func joinError(err error, wrapper *ApiError) *ApiError {
	if err != nil {
		return &ApiError{wrapper.Message + ": " + err.Error(), wrapper.StatusCode}
	}
	return nil
}

var ErrBadRequestBody = &ApiError{"bad request body", 400}

func stopBrowsersMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.UserAgent(), "Mozilla/") {
			http.Error(w, "User agent not allowed", http.StatusForbidden)
		} else {
			next.ServeHTTP(w, r)
		}
	})
}

func timeoutMiddleware(next http.Handler) http.Handler {
	return http.TimeoutHandler(next, 25*time.Second, "")
}

func create(w http.ResponseWriter, r *http.Request) {
	input := Proxy{Enabled: true}
	err := json.NewDecoder(r.Body).Decode(&input)
	if apiError(w, joinError(err, ErrBadRequestBody)) {
		return
	}
	logger := zerolog.New(os.Stderr)
	input.Logger = &logger
	data, _ := json.Marshal(input)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	w.Write(data)
}

func populate(w http.ResponseWriter, r *http.Request) {
	if apiError(w, joinError(toxiproxy.Populate(r.Body), ErrBadRequestBody)) { return }
	w.WriteHeader(201)
}

func toxicAnswer(w http.ResponseWriter, toxic interface{}, err error, body bool) {
	if err != nil {
		status := map[string]int{"toxic already exists": 409, "toxic not found": 404}[err.Error()]
		if body {
			apiError(w, joinError(err, ErrBadRequestBody))
		} else if status != 0 {
			apiError(w, &ApiError{err.Error(), status})
		} else {
			apiError(w, &ApiError{err.Error(), 400})
		}
		return
	}
	data, _ := json.Marshal(toxic)
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

func toxicCreate(w http.ResponseWriter, r *http.Request) {
	toxic, err, body := toxiproxy.AddToxicJson(mux.Vars(r)["proxy"], r.Body)
	toxicAnswer(w, toxic, err, body)
}

func toxicUpdate(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	toxic, err, body := toxiproxy.UpdateToxicJson(vars["proxy"], vars["toxic"], r.Body)
	toxicAnswer(w, toxic, err, body)
}

func stub(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(fmt.Sprintf("{\"vars\": %q}", mux.Vars(r))))
}

func version(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Write([]byte(fmt.Sprintf("{\"version\": \"%s\"}\n", "2.12.0")))
}

func main() {
	logger := zerolog.New(os.Stderr)
	r := mux.NewRouter()
	r.Use(hlog.NewHandler(logger))
	r.Use(hlog.RequestIDHandler("request_id", "X-Toxiproxy-Request-Id"))
	r.Use(stopBrowsersMiddleware)
	r.Use(timeoutMiddleware)
	r.HandleFunc("/reset", stub).Methods("POST")
	r.HandleFunc("/proxies", stub).Methods("GET")
	r.HandleFunc("/proxies", create).Methods("POST")
	r.HandleFunc("/populate", populate).Methods("POST")
	r.HandleFunc("/proxies/{proxy}", stub).Methods("GET")
	r.HandleFunc("/proxies/{proxy}", stub).Methods("POST", "PATCH")
	r.HandleFunc("/proxies/{proxy}", stub).Methods("DELETE")
	r.HandleFunc("/proxies/{proxy}/toxics", stub).Methods("GET")
	r.HandleFunc("/proxies/{proxy}/toxics", toxicCreate).Methods("POST")
	r.HandleFunc("/proxies/{proxy}/toxics/{toxic}", stub).Methods("GET")
	r.HandleFunc("/proxies/{proxy}/toxics/{toxic}", toxicUpdate).Methods("POST", "PATCH")
	r.HandleFunc("/proxies/{proxy}/toxics/{toxic}", stub).Methods("DELETE")
	r.HandleFunc("/version", version).Methods("GET")
	srv := &http.Server{Addr: os.Args[1], Handler: r, WriteTimeout: 30 * time.Second, ReadTimeout: 15 * time.Second, IdleTimeout: 60 * time.Second}
	srv.ListenAndServe()
}
