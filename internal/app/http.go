package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
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
// This handler does not check access tokens: it decrypts anything it is sent,
// which is right only on loopback. The worker builds its handler with
// newWorkerHTTPHandler, which applies http.codecAuth.
func NewHTTPHandler(ring codec.Keyring, corsOrigins []string) (http.Handler, error) {
	return newHTTPHandler(ring, corsOrigins, nil, zap.NewNop())
}

// newHTTPHandler is NewHTTPHandler with the codec paths behind tv when it is
// not nil. /healthz stays open; CORS preflights are answered before tv.
func newHTTPHandler(ring codec.Keyring, corsOrigins []string, tv tokenVerifier, log *zap.Logger) (http.Handler, error) {
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
	if tv != nil {
		codecHandler = requireAccessToken(codecHandler, tv, log)
	}
	mux.Handle("/codec/", withCORS(codecHandler, corsOrigins))
	return mux, nil
}

// newWorkerHTTPHandler builds the worker's handler from http.*: it refuses a
// codec server beyond loopback without http.codecAuth, and otherwise puts the
// codec behind access-token verification when http.codecAuth is set.
func newWorkerHTTPHandler(cfg config.HTTP, ring codec.Keyring, log *zap.Logger) (http.Handler, error) {
	if err := cfg.CheckCodecExposure(); err != nil {
		return nil, err
	}
	if !cfg.CodecAuth.IsSet() {
		log.Info("codec endpoint is open: it listens on loopback only and http.codecAuth is not set", zap.String("listen", cfg.Listen))
		return newHTTPHandler(ring, cfg.CodecCORSOrigins, nil, log)
	}
	v, err := newOIDCTokenVerifier(cfg.CodecAuth)
	if err != nil {
		return nil, err
	}
	if _, err := v.verifier(); err != nil {
		log.Warn("codec endpoint cannot reach its OIDC issuer yet; it answers 503 until it can", zap.Error(err))
	}
	log.Info("codec endpoint verifies access tokens",
		zap.String("issuer", cfg.CodecAuth.Issuer), zap.String("audience", cfg.CodecAuth.Audience))
	return newHTTPHandler(ring, cfg.CodecCORSOrigins, v, log)
}

// Headers the Web UI sends to the codec: it adds Authorization when its codec
// passAccessToken is on; Authorization-Extras (the ID token) is allowed for
// clients that forward it too.
const codecAllowedHeaders = "Content-Type, Authorization, X-Namespace, Authorization-Extras"

// withCORS grants CORS to the configured origins only: the exact origin is
// echoed (never "*"), with credentials allowed as the Web UI's
// includeCredentials needs. A preflight or request from any other origin gets
// 403 and no grant. Requests without an Origin (the CLI) pass.
func withCORS(next http.Handler, origins []string) http.Handler {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[strings.TrimSuffix(o, "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The answer depends on Origin whether or not it is granted, so
		// caches must key on it either way.
		w.Header().Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		ok := origin != "" && allowed[origin]
		if origin != "" && !ok {
			http.Error(w, "origin not allowed; add it to http.codecCORSOrigins", http.StatusForbidden)
			return
		}
		if ok {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			if ok {
				w.Header().Set("Access-Control-Allow-Headers", codecAllowedHeaders)
				w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
				w.Header().Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveHTTP starts the worker's HTTP server; the returned func stops it.
// authCallback, when not nil, serves GET /auth/callback (the delegated
// sign-in's redirect URI).
func serveHTTP(cfg config.HTTP, ring codec.Keyring, authCallback http.Handler, log *zap.Logger) (func(), error) {
	h, err := newWorkerHTTPHandler(cfg, ring, log)
	if err != nil {
		return nil, err
	}
	if authCallback != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /auth/callback", authCallback)
		mux.Handle("/", h)
		h = mux
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
