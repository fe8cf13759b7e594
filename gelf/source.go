package gelf

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qnib/qwatch/message"
)

// Defaults of Config.
const (
	DefaultUDPReaders     = 1
	DefaultReadBuffer     = 8 << 20
	DefaultMaxConnections = 256
	DefaultIdleTimeout    = 5 * time.Minute
)

// Config sets up a Source. Each address is host:port; an empty one turns that transport off.
// Zero values of the limits mean the documented defaults.
type Config struct {
	UDPAddr  string // GELF datagrams: gzip, zlib or plain, chunked or not
	TCPAddr  string // GELF messages each followed by a NUL byte
	HTTPAddr string // GELF over HTTP: POST /gelf with one message, plain or gzip

	// UDPReaders is how many goroutines read the UDP socket (DefaultUDPReaders). More than one
	// reads faster but no longer keeps the order in which one container's lines arrive.
	UDPReaders int
	// ReadBuffer is the UDP socket's receive buffer in bytes (DefaultReadBuffer); the kernel
	// may grant less. A larger buffer rides out bursts while the sinks are slow.
	ReadBuffer int

	MaxMessageSize int           // bytes of JSON in one message, after decompression (DefaultMaxMessageSize); also caps TCP frames and HTTP bodies
	MaxFields      int           // members of one message's JSON object (DefaultMaxFields)
	MaxChunks      int           // chunks of one message (DefaultMaxChunks)
	ChunkTimeout   time.Duration // how long the chunks of a message may take (DefaultChunkTimeout)
	MaxIncomplete  int           // messages held for reassembly (DefaultMaxIncomplete)
	MaxChunkBytes  int           // bytes held for reassembly (DefaultMaxChunkBytes)
	MaxConnections int           // concurrent TCP connections (DefaultMaxConnections)
	IdleTimeout    time.Duration // a TCP connection that sends nothing this long is closed (DefaultIdleTimeout)

	// JoinDockerLines puts back together the lines longer than 16 KiB that Docker splits into
	// pieces before its GELF driver sends them, one message each and unmarked. See
	// DockerLineLimit; it relies on pieces arriving in order, so keep UDPReaders at 1.
	JoinDockerLines bool
	// JoinWait is how long the pieces of a line wait for the rest while the socket is idle
	// (DefaultJoinWait).
	JoinWait time.Duration

	// Logger reports rejected input, at most once a second per reason (nil: slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.UDPReaders, DefaultUDPReaders)
	def(&c.ReadBuffer, DefaultReadBuffer)
	def(&c.MaxMessageSize, DefaultMaxMessageSize)
	def(&c.MaxFields, DefaultMaxFields)
	def(&c.MaxConnections, DefaultMaxConnections)
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.JoinWait <= 0 {
		c.JoinWait = DefaultJoinWait
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Stats counts what a Source received and what it made of it.
type Stats struct {
	Datagrams       uint64 // UDP datagrams read
	Chunks          uint64 // of which chunks
	TCPFrames       uint64 // NUL-terminated TCP messages read
	HTTPRequests    uint64 // POST /gelf requests
	Bytes           uint64 // bytes read, before decompression
	Messages        uint64 // messages decoded and emitted
	TCPConnections  int    // open now
	Incomplete      int    // chunked messages waiting for chunks now
	IncompleteBytes int    // bytes those hold
	JoinedPieces    uint64 // pieces of split Docker lines merged into the piece before them
	Expired         uint64 // chunked messages dropped because their chunks took too long
	Evicted         uint64 // chunked messages dropped to stay within the reassembly limits
	DuplicateChunks uint64 // chunks received twice, ignored
	Rejected        map[Reason]uint64
}

// Source receives GELF messages on UDP, TCP and HTTP. Create it with Listen, which binds the
// sockets; Run serves them. A Source satisfies qwatch.Source.
type Source struct {
	cfg    Config
	log    *slog.Logger
	udp    *net.UDPConn
	tcp    net.Listener
	httpLn net.Listener
	asm    *Assembler
	joined atomic.Uint64 // pieces of split Docker lines joined

	started   atomic.Bool
	closeOnce sync.Once

	datagrams, chunks, frames, requests, bytes, messages atomic.Uint64
	rejected                                             rejections

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Listen binds the configured addresses. At least one must be set.
func Listen(cfg Config) (*Source, error) {
	cfg.setDefaults()
	if cfg.UDPAddr == "" && cfg.TCPAddr == "" && cfg.HTTPAddr == "" {
		return nil, errors.New("gelf: no address to listen on: set UDPAddr, TCPAddr or HTTPAddr")
	}
	if cfg.JoinDockerLines && cfg.UDPReaders > 1 {
		return nil, errors.New("gelf: JoinDockerLines needs the pieces in order: UDPReaders must be 1")
	}
	s := &Source{
		cfg:   cfg,
		log:   cfg.Logger,
		conns: make(map[net.Conn]struct{}),
		asm: NewAssembler(AssemblerConfig{MaxChunks: cfg.MaxChunks, Timeout: cfg.ChunkTimeout,
			MaxIncomplete: cfg.MaxIncomplete, MaxBytes: cfg.MaxChunkBytes}),
	}
	if cfg.UDPAddr != "" {
		addr, err := net.ResolveUDPAddr("udp", cfg.UDPAddr)
		if err != nil {
			return nil, fmt.Errorf("gelf: udp address %q: %w", cfg.UDPAddr, err)
		}
		conn, err := net.ListenUDP("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("gelf: %w", err)
		}
		s.udp = conn
		setReadBuffer(conn, cfg.ReadBuffer)
	}
	if cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("gelf: %w", err)
		}
		s.tcp = ln
	}
	if cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("gelf: %w", err)
		}
		s.httpLn = ln
	}
	return s, nil
}

// UDPAddr returns the bound UDP address, or nil when UDP is off.
func (s *Source) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr returns the bound TCP address, or nil when TCP is off.
func (s *Source) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// HTTPAddr returns the bound HTTP address, or nil when HTTP is off.
func (s *Source) HTTPAddr() net.Addr {
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// Close releases the sockets of a Source that will not Run (Run closes them itself). It is
// safe to call more than once.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		if s.udp != nil {
			s.udp.Close()
		}
		if s.tcp != nil {
			s.tcp.Close()
		}
		if s.httpLn != nil {
			s.httpLn.Close()
		}
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return nil
}

// Run serves until ctx is done, then closes every socket and connection, waits for its
// goroutines and returns nil. emit is called from several goroutines at once (one per UDP
// reader and TCP connection). Run may be called once.
func (s *Source) Run(ctx context.Context, emit func(message.Message)) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("gelf: Run called twice")
	}
	var wg sync.WaitGroup
	if s.udp != nil {
		for range s.cfg.UDPReaders {
			wg.Go(func() { s.readUDP(emit) })
		}
	}
	if s.tcp != nil {
		wg.Go(func() { s.acceptTCP(&wg, emit) })
	}
	var srv *http.Server
	var httpConns sync.WaitGroup // http.Server.Close does not wait for its connections' goroutines
	if s.httpLn != nil {
		srv = &http.Server{Handler: s.httpHandler(emit), ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout: s.cfg.IdleTimeout, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
			ConnState: func(_ net.Conn, state http.ConnState) {
				switch state {
				case http.StateNew:
					httpConns.Add(1)
				case http.StateClosed, http.StateHijacked:
					httpConns.Done()
				}
			}}
		wg.Go(func() {
			if err := srv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("gelf: serving http", "err", err)
			}
		})
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for done := false; !done; {
		select {
		case now := <-ticker.C:
			s.asm.Expire(now)
		case <-ctx.Done():
			done = true
		}
	}
	if srv != nil {
		srv.Close()
	}
	s.Close()
	wg.Wait()
	httpConns.Wait()
	return nil
}

func (s *Source) readUDP(emit func(message.Message)) {
	buf := make([]byte, 65536)
	dec := s.decoder()
	j := s.joiner()
	defer j.flush(emit) // the socket is closed: nothing more can come
	for {
		// Pieces of a line wait only while the socket is idle, not while emit blocks.
		var deadline time.Time
		if j.waiting() {
			deadline = time.Now().Add(s.cfg.JoinWait)
		}
		if err := s.udp.SetReadDeadline(deadline); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Warn("gelf: setting udp read deadline", "err", err)
		}
		n, err := s.udp.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				j.flush(emit)
				continue
			}
			s.log.Warn("gelf: reading udp", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.datagrams.Add(1)
		s.bytes.Add(uint64(n))
		payload, now := buf[:n], time.Now()
		if IsChunk(payload) {
			s.chunks.Add(1)
			whole, err := s.asm.Add(payload, now)
			if err != nil {
				s.reject(err, "udp")
				continue
			}
			if whole == nil {
				continue
			}
			payload = whole
		}
		s.handle(dec, j, payload, now, "udp", emit)
	}
}

func (s *Source) decoder() *Decoder {
	return &Decoder{MaxMessageSize: s.cfg.MaxMessageSize, MaxFields: s.cfg.MaxFields}
}

// handle decodes one whole payload and emits it, through j when it is not nil; it reports
// whether the payload was good.
func (s *Source) handle(dec *Decoder, j *joiner, payload []byte, now time.Time, transport string, emit func(message.Message)) error {
	m, err := dec.Decode(payload, now)
	if err != nil {
		s.reject(err, transport)
		return err
	}
	s.messages.Add(1)
	if j != nil {
		j.add(m, emit)
		return nil
	}
	emit(m)
	return nil
}

// joiner returns a joiner for one reader, or nil when joining is off.
func (s *Source) joiner() *joiner {
	if !s.cfg.JoinDockerLines {
		return nil
	}
	return &joiner{max: s.cfg.MaxMessageSize, joined: &s.joined, pending: map[joinKey]*partialLine{}}
}

func (s *Source) reject(err error, transport string) {
	reason := ReasonJSON
	var ge *Error
	if errors.As(err, &ge) {
		reason = ge.Reason
	}
	if s.rejected.add(reason) {
		s.log.Warn("gelf: rejected input (logged at most once a second per reason)",
			"transport", transport, "reason", string(reason), "err", err)
	}
}

func (s *Source) acceptTCP(wg *sync.WaitGroup, emit func(message.Message)) {
	for {
		conn, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("gelf: accepting tcp", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !s.track(conn) {
			if s.isClosed() {
				conn.Close()
				return
			}
			s.reject(errorf(ReasonConnLimit, "more than %d tcp connections; closing %s", s.cfg.MaxConnections, conn.RemoteAddr()), "tcp")
			conn.Close()
			continue
		}
		wg.Go(func() {
			defer s.untrack(conn)
			s.readTCP(conn, emit)
		})
	}
}

// track registers conn, unless the connection limit is reached or the Source is closing.
func (s *Source) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= s.cfg.MaxConnections {
		return false
	}
	s.conns[conn] = struct{}{}
	return true
}

func (s *Source) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Source) untrack(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	conn.Close()
}

// readTCP reads NUL-terminated messages until the peer closes, goes quiet for the idle
// timeout, or the Source closes. A frame over the size limit is skipped up to its NUL.
func (s *Source) readTCP(conn net.Conn, emit func(message.Message)) {
	r := bufio.NewReaderSize(conn, 64<<10)
	dec := s.decoder()
	j := s.joiner()
	defer j.flush(emit)
	var frame []byte
	oversized := false
	lastActive := time.Now()
	for {
		deadline := lastActive.Add(s.cfg.IdleTimeout)
		if soon := time.Now().Add(s.cfg.JoinWait); j.waiting() && soon.Before(deadline) {
			deadline = soon
		}
		if err := conn.SetReadDeadline(deadline); err != nil {
			return
		}
		part, err := r.ReadSlice(0)
		s.bytes.Add(uint64(len(part)))
		if len(part) > 0 {
			lastActive = time.Now()
		}
		switch {
		case err == nil:
			part = part[:len(part)-1]
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, os.ErrDeadlineExceeded) && j.waiting() && time.Since(lastActive) < s.cfg.IdleTimeout:
			// Idle while pieces wait: let them go out, and keep what this frame has so far
			// (ReadSlice returned it in part).
			if !oversized {
				frame = append(frame, part...)
			}
			j.flush(emit)
			continue
		default:
			if len(frame)+len(part) > 0 && errors.Is(err, io.EOF) && !oversized {
				// A last message without its NUL: take it, as Graylog does.
				s.frames.Add(1)
				s.handle(dec, j, append(frame, part...), time.Now(), "tcp", emit)
			}
			return
		}
		if !oversized {
			if len(frame)+len(part) > s.cfg.MaxMessageSize {
				oversized = true
				frame = frame[:0]
				s.reject(errorf(ReasonTooLarge, "tcp frame larger than %d bytes", s.cfg.MaxMessageSize), "tcp")
			} else if err == nil && len(frame) == 0 {
				frame = part // the common case: the whole frame is in the reader's buffer
			} else {
				frame = append(frame, part...)
			}
		}
		if err != nil {
			continue
		}
		if !oversized && len(frame) > 0 {
			s.frames.Add(1)
			s.handle(dec, j, frame, time.Now(), "tcp", emit)
		}
		oversized = false
		frame = frame[:0:0]
	}
}

func (s *Source) httpHandler(emit func(message.Message)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gelf", func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxMessageSize)))
		s.bytes.Add(uint64(len(body)))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				s.reject(errorf(ReasonTooLarge, "http body larger than %d bytes", s.cfg.MaxMessageSize), "http")
				http.Error(w, "gelf: message too large", http.StatusRequestEntityTooLarge)
			}
			return
		}
		dec := decoders.Get().(*Decoder)
		dec.MaxMessageSize, dec.MaxFields = s.cfg.MaxMessageSize, s.cfg.MaxFields
		err = s.handle(dec, nil, body, time.Now(), "http", emit)
		dec.MaxMessageSize, dec.MaxFields = 0, 0
		decoders.Put(dec)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
}

// Stats returns the Source's counters.
func (s *Source) Stats() Stats {
	a := s.asm.Stats()
	s.mu.Lock()
	conns := len(s.conns)
	s.mu.Unlock()
	return Stats{
		Datagrams:       s.datagrams.Load(),
		Chunks:          s.chunks.Load(),
		TCPFrames:       s.frames.Load(),
		HTTPRequests:    s.requests.Load(),
		Bytes:           s.bytes.Load(),
		Messages:        s.messages.Load(),
		TCPConnections:  conns,
		JoinedPieces:    s.joined.Load(),
		Incomplete:      a.Incomplete,
		IncompleteBytes: a.Bytes,
		Expired:         a.Expired,
		Evicted:         a.Evicted,
		DuplicateChunks: a.Duplicates,
		Rejected:        s.rejected.snapshot(),
	}
}
