package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/codec"
)

// NewHTTPHandler serves the worker's HTTP endpoints:
//
//	GET  /healthz         liveness for docker-compose and orchestrators
//	POST /codec/encode    Temporal remote codec: the Web UI and `temporal`
//	POST /codec/decode    CLI decrypt payloads here instead of holding keys
//
// The codec answers browsers only from the configured Web UI origins (CORS).
// It decrypts anything it is sent, so it listens on loopback by default; expose
// it only behind the same authentication that guards the Web UI.
func NewHTTPHandler(ring codec.Keyring, corsOrigins []string) (http.Handler, error) {
	pc, err := codec.NewCodec(ring)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	codecHandler := http.StripPrefix("/codec", converter.NewPayloadCodecHTTPHandler(pc))
	mux.Handle("/codec/", withCORS(codecHandler, corsOrigins))
	return mux, nil
}

// withCORS answers preflights and adds CORS headers for allowed origins only.
func withCORS(next http.Handler, origins []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(origins, origin)
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			if !allowed {
				http.Error(w, "origin not allowed; add it to http.codecCORSOrigins", http.StatusForbidden)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if origin != "" && !allowed {
			http.Error(w, "origin not allowed; add it to http.codecCORSOrigins", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveHTTP starts the worker's HTTP server; the returned func stops it.
func serveHTTP(cfg config.HTTP, ring codec.Keyring, log *zap.Logger) (func(), error) {
	h, err := NewHTTPHandler(ring, cfg.CodecCORSOrigins)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w; choose a free address", cfg.Listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", zap.Error(err))
		}
	}()
	log.Info("http listening", zap.String("addr", ln.Addr().String()))
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}, nil
}
