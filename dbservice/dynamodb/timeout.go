package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go/middleware"
)

// errCallTimeout is the cause of a call context that ran out of
// Config.CallTimeout, as opposed to the caller's own deadline.
var errCallTimeout = errors.New("no answer within the call timeout")

// callTimeoutMiddleware bounds each API call, from before the first
// attempt to the decoded answer, so the SDK's retries share one budget.
// It sits in the Initialize step, which runs once per call (retries
// happen further down, in Finalize). The JSON protocol reads the whole
// answer inside the stack, so cancelling on return cuts nothing short.
func callTimeoutMiddleware(d time.Duration) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("securedbCallTimeout",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				cctx, cancel := context.WithTimeoutCause(ctx, d, errCallTimeout)
				defer cancel()
				out, md, err := next.HandleInitialize(cctx, in)
				if err != nil && ctx.Err() == nil && errors.Is(context.Cause(cctx), errCallTimeout) {
					err = fmt.Errorf("%w: %w", errCallTimeout, err)
				}
				return out, md, err
			}), middleware.Before)
	}
}

// connSet records the connections an http.Transport dials, so that Close
// can close them: the SDK's BuildableClient builds its transport
// privately, out of reach of CloseIdleConnections.
type connSet struct {
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// track wraps dial (nil means the SDK's default dialer) so that every
// connection it makes joins the set until it is closed.
func (c *connSet) track(dial dialFunc) dialFunc {
	if dial == nil {
		dial = (&net.Dialer{Timeout: awshttp.DefaultDialConnectTimeout, KeepAlive: awshttp.DefaultDialKeepAliveTimeout}).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: conn, set: c}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			_ = conn.Close()
			return nil, net.ErrClosed
		}
		if c.conns == nil {
			c.conns = map[*trackedConn]struct{}{}
		}
		c.conns[tc] = struct{}{}
		return tc, nil
	}
}

// closeAll closes every connection and refuses new ones.
func (c *connSet) closeAll() {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for tc := range conns {
		_ = tc.Conn.Close()
	}
}

type trackedConn struct {
	net.Conn
	set  *connSet
	once sync.Once
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.set.mu.Lock()
		delete(t.set.conns, t)
		t.set.mu.Unlock()
	})
	return t.Conn.Close()
}
