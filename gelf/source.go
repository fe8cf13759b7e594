package gelf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/message"
)

// Config sets up a Source. Each address is host:port; an empty one turns that transport off.
// The host "localhost" means both loopback addresses, 127.0.0.1 and ::1: Docker's driver, a Go
// program, resolves localhost to ::1 first on a usual host, so a GELF address of
// udp://localhost:12201 reaches only a socket on ::1. A zero (or negative) limit means its
// default, the Default constant of the same name.
type Config struct {
	UDPAddr  string // GELF datagrams: gzip, zlib or plain, chunked or not
	TCPAddr  string // GELF messages each followed by a NUL byte
	HTTPAddr string // GELF over HTTP: POST /gelf with one message, plain or gzip

	// UDPWorkers is how many goroutines decode the datagrams one goroutine reads from each UDP
	// socket (zero: GOMAXPROCS, at most 8), any of them any sender's, and how many lanes put
	// the decoded messages back in the order their datagrams were read, each for the senders
	// that hash to it, so each container's lines keep their order.
	UDPWorkers int
	// ReadBuffer is the UDP socket's receive buffer in bytes (DefaultReadBuffer); the kernel
	// may grant less. A larger buffer rides out bursts while the sinks are slow.
	ReadBuffer int

	MaxMessageSize int           // bytes of JSON in one message, after decompression (DefaultMaxMessageSize); also caps TCP frames and HTTP bodies
	MaxFields      int           // members of one message's JSON object (DefaultMaxFields)
	MaxChunks      int           // chunks of one message (DefaultMaxChunks; above 255, which a chunk header cannot count, the default too)
	ChunkTimeout   time.Duration // how long the chunks of a message may take (DefaultChunkTimeout)
	MaxIncomplete  int           // messages held for reassembly (DefaultMaxIncomplete)
	MaxChunkBytes  int           // bytes held for reassembly (DefaultMaxChunkBytes)
	MaxConnections int           // concurrent TCP connections of all TCP listeners together, and HTTP connections of each HTTP listener (DefaultMaxConnections)
	MaxFrameBytes  int           // bytes of TCP frames begun and not yet ended, all connections together (DefaultMaxFrameBytes)
	IdleTimeout    time.Duration // close a TCP connection that sends nothing this long; zero never does (DefaultIdleTimeout)
	HTTPTimeout    time.Duration // to read one HTTP request, to write its answer, and for an idle HTTP connection (DefaultHTTPTimeout)
	DrainTimeout   time.Duration // at shutdown, to read what the sockets already hold and finish the HTTP requests in flight (DefaultDrainTimeout)

	// MaxFuture and MaxPast bound how far a message's timestamp may be from the time it was
	// received (DefaultMaxFuture, DefaultMaxPast); one beyond is replaced by the receive time.
	MaxFuture, MaxPast time.Duration

	// JoinDockerLines puts back together the lines longer than 16 KiB that Docker splits into
	// pieces before its GELF driver sends them, one message each and unmarked. See
	// DockerLineLimit.
	JoinDockerLines bool
	// JoinWait is how long the pieces of a line wait for the rest, from their arrival
	// (DefaultJoinWait).
	JoinWait time.Duration
	// JoinBytes bounds the bytes of pieces all readers hold together (DefaultJoinBytes); a
	// piece beyond it goes out as it is.
	JoinBytes int

	// Multiline bounds and times the grouping of a container's lines into events, a stack
	// trace into one (the zero Config: package multiline's defaults). See the package
	// documentation.
	Multiline multiline.Config
	// MultilineRule is the rule of every container that MultilineRuleFor does not answer
	// for; the zero Rule is multiline.Auto. multiline.Off, with MultilineRuleFor nil, turns
	// the grouping off.
	MultilineRule multiline.Rule
	// MultilineRuleFor, when set, returns the rule for a container by its ID, and false to
	// leave it to MultilineRule. GELF messages carry no labels, so this is how a container's
	// labels (qwatch.multiline, qwatch.multiline.start) choose its rule: answer from an
	// inventory of the containers (see multiline.RuleByName and multiline.ParseStart). It is
	// called on the reader's goroutine when the grouping makes a stream of the container: at
	// the container's first line on that reader, and at a later line if the stream was
	// forgotten, a minute or more after its last. So it must answer at once, and a container
	// it does not know yet keeps MultilineRule for as long as that stream.
	MultilineRuleFor func(containerID string) (multiline.Rule, bool)
	// MultilineBytes bounds the text bytes that the lines held for grouping take, all
	// readers together (DefaultMultilineBytes); see multiline.Budget.
	MultilineBytes int

	// Logger reports rejected input, at most once a second per reason, and trouble with the
	// sockets (nil: slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.UDPWorkers, defaultUDPWorkers())
	if c.MaxChunks > 255 {
		c.MaxChunks = DefaultMaxChunks
	}
	def(&c.MaxChunks, DefaultMaxChunks)
	def(&c.MaxIncomplete, DefaultMaxIncomplete)
	def(&c.MaxChunkBytes, DefaultMaxChunkBytes)
	def(&c.MaxFrameBytes, DefaultMaxFrameBytes)
	def(&c.ReadBuffer, DefaultReadBuffer)
	def(&c.MaxMessageSize, DefaultMaxMessageSize)
	def(&c.MaxFields, DefaultMaxFields)
	def(&c.MaxConnections, DefaultMaxConnections)
	def(&c.JoinBytes, DefaultJoinBytes)
	def(&c.MultilineBytes, DefaultMultilineBytes)
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur(&c.ChunkTimeout, DefaultChunkTimeout)
	defDur(&c.IdleTimeout, DefaultIdleTimeout)
	defDur(&c.HTTPTimeout, DefaultHTTPTimeout)
	defDur(&c.DrainTimeout, DefaultDrainTimeout)
	defDur(&c.JoinWait, DefaultJoinWait)
	defDur(&c.MaxFuture, DefaultMaxFuture)
	defDur(&c.MaxPast, DefaultMaxPast)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Stats counts what a Source received and what it made of it.
type Stats struct {
	Datagrams       uint64 // UDP datagrams read
	Chunks          uint64 // of which chunks
	TCPFrames       uint64 // TCP messages read: NUL-terminated, or the last one before the sender closed
	HTTPRequests    uint64 // POST /gelf requests
	Bytes           uint64 // bytes read, before decompression
	Messages        uint64 // messages decoded (each piece of a split Docker line counts; JoinedPieces were merged)
	TCPConnections  int    // open now
	Incomplete      int    // chunked messages waiting for chunks now
	IncompleteBytes int    // bytes those hold
	JoinedPieces    uint64 // pieces of split Docker lines merged into the piece before them
	JoinReleased    uint64 // split lines let go before their end came: waited too long, or over JoinBytes
	Expired         uint64 // chunked messages dropped because their chunks took too long
	Evicted         uint64 // chunked messages dropped to stay within the reassembly limits
	DuplicateChunks uint64 // chunks received twice, ignored
	Clamped         uint64 // messages whose timestamp was too far from the receive time, replaced
	// KernelDrops counts datagrams the kernel dropped because the UDP socket's receive
	// buffer was full (the sinks held the reader up too long): accepted by the host, never
	// read. Linux only; zero elsewhere.
	KernelDrops uint64
	// Discarded counts, by cause, what the sockets had accepted but shutdown could not hand
	// on: "tcp_unread" frames and "udp_unread" datagrams still buffered when DrainTimeout
	// ran out, "incomplete" chunked messages.
	Discarded map[string]uint64
	Rejected  map[Reason]uint64 // input rejected, by reason
	// Multiline counts the grouping of lines into events: group events emitted and the
	// lines in them, continuations, and the rest (see multiline.Stats). Zero when the
	// grouping is off.
	Multiline multiline.Stats
}

// Source receives GELF messages on UDP, TCP and HTTP. Create it with Listen, which binds the
// sockets; Run serves them. A Source satisfies qwatch.Source.
type Source struct {
	cfg         Config
	log         *slog.Logger
	udp         []*net.UDPConn
	tcp         []net.Listener
	httpLn      []net.Listener
	asm         *assembler
	budget      *multiline.Budget // shared by every reader's grouping; nil when it is off
	joined      atomic.Uint64     // pieces of split Docker lines joined
	released    atomic.Uint64     // split lines let go unfinished
	joinHeld    atomic.Int64      // bytes the joiners hold
	frameHeld   atomic.Int64      // bytes of unfinished TCP frames
	clamped     atomic.Uint64
	draining    atomic.Bool // shutdown: readers stop at the drain deadline, not at Close
	udpClosed   atomic.Bool
	closedDrops atomic.Uint64 // the kernel's drop count when the sockets closed
	drainEnd    atomic.Int64  // the drain deadline, in Unix nanoseconds

	discardMu sync.Mutex
	discarded map[string]uint64

	started   atomic.Bool
	closeOnce sync.Once

	datagrams, chunks, frames, requests, bytes, messages atomic.Uint64
	rejected                                             *rejections

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
	s := &Source{
		cfg:       cfg,
		log:       cfg.Logger,
		conns:     make(map[net.Conn]struct{}),
		discarded: make(map[string]uint64),
		asm:       newAssembler(cfg),
		rejected:  newRejections(),
	}
	if cfg.MultilineRule != multiline.Off || cfg.MultilineRuleFor != nil {
		s.budget = multiline.NewBudget(int64(cfg.MultilineBytes))
	}
	err := bindAll(cfg.UDPAddr, s.log, func(addr string) (net.Addr, error) {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		conn, err := net.ListenUDP("udp", ua)
		if err != nil {
			return nil, err
		}
		setReadBuffer(conn, cfg.ReadBuffer)
		s.udp = append(s.udp, conn)
		return conn.LocalAddr(), nil
	})
	if err == nil {
		err = bindAll(cfg.TCPAddr, s.log, func(addr string) (net.Addr, error) {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return nil, err
			}
			s.tcp = append(s.tcp, ln)
			return ln.Addr(), nil
		})
	}
	if err == nil {
		err = bindAll(cfg.HTTPAddr, s.log, func(addr string) (net.Addr, error) {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return nil, err
			}
			s.httpLn = append(s.httpLn, ln)
			return ln.Addr(), nil
		})
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("gelf: %w", err)
	}
	return s, nil
}

// bindAll binds addr with bind; "localhost:PORT" binds both loopback addresses, the second on
// the port the first got. Where ::1 cannot be bound (no IPv6), it goes on with IPv4 alone.
func bindAll(addr string, log *slog.Logger, bind func(string) (net.Addr, error)) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host != "localhost" {
		_, err := bind(addr)
		return err
	}
	first, err := bind(net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return err
	}
	if port == "0" {
		_, port, _ = net.SplitHostPort(first.String())
	}
	if _, err := bind(net.JoinHostPort("::1", port)); err != nil {
		log.Warn("gelf: cannot listen on the IPv6 loopback; IPv4 only", "addr", addr, "err", err)
	}
	return nil
}

// UDPAddr returns the first bound UDP address, or nil when UDP is off.
func (s *Source) UDPAddr() net.Addr {
	if len(s.udp) == 0 {
		return nil
	}
	return s.udp[0].LocalAddr()
}

// TCPAddr returns the first bound TCP address, or nil when TCP is off.
func (s *Source) TCPAddr() net.Addr {
	if len(s.tcp) == 0 {
		return nil
	}
	return s.tcp[0].Addr()
}

// HTTPAddr returns the first bound HTTP address, or nil when HTTP is off.
func (s *Source) HTTPAddr() net.Addr {
	if len(s.httpLn) == 0 {
		return nil
	}
	return s.httpLn[0].Addr()
}

// Addrs returns every bound address: with "localhost", one per loopback address.
func (s *Source) Addrs() []net.Addr {
	var out []net.Addr
	for _, c := range s.udp {
		out = append(out, c.LocalAddr())
	}
	for _, l := range s.tcp {
		out = append(out, l.Addr())
	}
	for _, l := range s.httpLn {
		out = append(out, l.Addr())
	}
	return out
}

// Close releases the sockets of a Source that will not Run (Run closes them itself). It is
// safe to call more than once.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.closedDrops.Store(s.kernelDrops()) // the kernel forgets the count with the socket
		s.udpClosed.Store(true)
		for _, c := range s.udp {
			c.Close()
		}
		s.closeListeners()
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return nil
}

// Run serves until ctx is done. Then it drains: it stops accepting connections, lets the
// readers take what the sockets already hold for up to Config.DrainTimeout (until each has
// been quiet for a moment), counts in Stats.Discarded what is left, emits what the readers
// still hold (lines waiting to be grouped or joined), closes every socket, waits for its
// goroutines and returns nil. emit is called from several goroutines at once (the UDP
// decoders, one per TCP connection, one per HTTP request, and one that emits the HTTP
// requests' lines on idle). Run may be called once; a second call returns an error.
func (s *Source) Run(ctx context.Context, emit func(message.Message)) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("gelf: Run called twice")
	}
	emit = s.clamping(emit)
	var wg sync.WaitGroup
	for _, conn := range s.udp {
		wg.Go(func() { s.readUDP(conn, emit) })
	}
	for _, ln := range s.tcp {
		wg.Go(func() { s.acceptTCP(ln, &wg, emit) })
	}
	srv, stopHTTP := s.serveHTTP(&wg, emit)
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for done := false; !done; {
		select {
		case now := <-ticker.C:
			s.asm.expire(now)
		case <-ctx.Done():
			done = true
		}
	}
	s.drain(srv)
	stopHTTP()
	wg.Wait() // the readers stop by themselves at the drain deadline, or at end of stream
	s.Close()
	if n := s.asm.stats().Incomplete; n > 0 {
		s.discard("incomplete", n)
	}
	if d := s.Stats().Discarded; len(d) > 0 {
		s.log.Warn("gelf: shutdown discarded what the sockets held past the drain timeout", "discarded", d)
	}
	return nil
}

// drainQuiet is how long a reader waits for more while draining before it takes the socket
// for empty.
const drainQuiet = 50 * time.Millisecond

// drain stops new connections and tells the readers to finish what the sockets hold.
func (s *Source) drain(srv *http.Server) {
	s.drainEnd.Store(time.Now().Add(s.cfg.DrainTimeout).UnixNano())
	s.draining.Store(true)
	s.closeListeners()
	// Wake the readers blocked without a deadline; they set the drain deadline themselves.
	now := time.Now()
	for _, c := range s.udp {
		c.SetReadDeadline(now)
	}
	s.mu.Lock()
	for c := range s.conns {
		c.SetReadDeadline(now)
	}
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	}
}

func (s *Source) closeListeners() {
	for _, l := range s.tcp {
		l.Close()
	}
	for _, l := range s.httpLn {
		l.Close()
	}
}

// readDeadline returns the deadline for a reader's next read: want (zero for none) while
// serving; while draining, the soonest of want, a quiet period and the drain deadline.
func (s *Source) readDeadline(want time.Time) time.Time {
	if !s.draining.Load() {
		return want
	}
	d := time.Now().Add(drainQuiet)
	if end := time.Unix(0, s.drainEnd.Load()); end.Before(d) {
		d = end
	}
	if !want.IsZero() && want.Before(d) {
		d = want
	}
	return d
}

// setDeadline sets conn's read deadline from want, and makes sure a drain that began
// meanwhile is not missed (drain wakes readers before they set a deadline of their own).
func (s *Source) setDeadline(conn interface{ SetReadDeadline(time.Time) error }, want time.Time) error {
	for {
		d := s.readDeadline(want)
		if err := conn.SetReadDeadline(d); err != nil {
			return err
		}
		if !d.IsZero() || !s.draining.Load() {
			return nil
		}
	}
}

func (s *Source) discard(cause string, n int) {
	s.discardMu.Lock()
	s.discarded[cause] += uint64(n)
	s.discardMu.Unlock()
}

// discardFor bounds how long shutdown reads what a socket still holds, only to count it: a
// socket's buffer is read empty well within it, unless a sender keeps it full.
const discardFor = 5 * time.Second

// discardLeft reads what conn still holds after the drain deadline, until it is empty (no
// byte for 10 ms) or for discardFor, and counts the messages in it with count, so what
// shutdown throws away is never silent.
func (s *Source) discardLeft(conn net.Conn, cause string, count func([]byte) int) {
	buf := make([]byte, 64<<10)
	s.discardUntilEmpty(conn, cause, func() (int, error) {
		k, err := conn.Read(buf)
		return count(buf[:k]), err
	})
}

// discardUntilEmpty counts, under cause, what read returns until it fails (a read deadline
// of 10 ms set before each call: nothing came) or discardFor passes.
func (s *Source) discardUntilEmpty(conn net.Conn, cause string, read func() (int, error)) {
	stop := time.Now().Add(discardFor)
	n := 0
	for time.Now().Before(stop) {
		conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		k, err := read()
		if k > 0 { // a failed recvmmsg says -1
			n += k
		}
		if err != nil {
			break
		}
	}
	if n > 0 {
		s.discard(cause, n)
	}
}

// newDecoder returns a decoder with the Source's limits, for one reader.
func (s *Source) newDecoder() *decoder {
	return &decoder{maxMessageSize: s.cfg.MaxMessageSize, maxFields: s.cfg.MaxFields}
}

// handle decodes one whole payload, received at now, and hands it to the reader's lines. It
// returns the decoding error, if any, once it has counted and logged it.
func (s *Source) handle(dec *decoder, l *lines, payload []byte, now time.Time, transport string) error {
	m, err := s.decodeOne(dec, payload, now, transport)
	if err == nil {
		l.add(m, now)
	}
	return err
}

// decodeOne decodes one whole payload received at now, and counts it, or counts and logs
// its rejection.
func (s *Source) decodeOne(dec *decoder, payload []byte, now time.Time, transport string) (message.Message, error) {
	m, err := dec.decode(payload, now)
	if err != nil {
		s.reject(err, transport)
		return message.Message{}, err
	}
	s.messages.Add(1)
	// A TTY container's lines end in \r\n; Docker's driver strips only the \n.
	m.Text = strings.TrimSuffix(m.Text, "\r")
	return m, nil
}

// clamping wraps emit so that a timestamp too far from the time of emitting is replaced.
// It applies after the pieces of split lines, which share their timestamp, are joined.
func (s *Source) clamping(emit func(message.Message)) func(message.Message) {
	return func(m message.Message) {
		now := time.Now()
		if m.Time.After(now.Add(s.cfg.MaxFuture)) || m.Time.Before(now.Add(-s.cfg.MaxPast)) {
			s.clamp(&m, now)
		}
		emit(m)
	}
}

// clamp replaces m's timestamp by now, keeping the original in a field.
func (s *Source) clamp(m *message.Message, now time.Time) {
	s.clamped.Add(1)
	fields := make(map[string]any, len(m.Fields)+1)
	maps.Copy(fields, m.Fields)
	fields["original_timestamp"] = m.Time.UTC().Format(time.RFC3339Nano)
	m.Fields, m.Time = fields, now
}

// joiner returns a joiner for one reader, or nil when joining is off.
func (s *Source) joiner() *joiner {
	if !s.cfg.JoinDockerLines {
		return nil
	}
	return &joiner{max: s.cfg.MaxMessageSize, wait: s.cfg.JoinWait, budget: int64(s.cfg.JoinBytes),
		held: &s.joinHeld, joined: &s.joined, released: &s.released, pending: map[joinKey]*partialLine{}}
}

// reject counts rejected input by its reason and logs it, at most once a second per reason.
func (s *Source) reject(err error, transport string) {
	reason := reasonOf(err)
	s.rejected.add(reason, func() {
		s.log.Warn("gelf: rejected input (logged at most once a second per reason)",
			"transport", transport, "reason", string(reason), "err", err)
	})
}

func (s *Source) acceptTCP(ln net.Listener, wg *sync.WaitGroup, emit func(message.Message)) {
	for {
		conn, err := ln.Accept()
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

// tcpReadBuffer is each TCP connection's read buffer. Docker keeps a connection per container,
// thousands on a big host, mostly idle: a frame longer than the buffer is gathered from
// several reads, within the shared MaxFrameBytes.
const tcpReadBuffer = 8 << 10

// readTCP reads NUL-terminated messages until the peer closes, goes quiet for the idle
// timeout (if one is set), or the Source drains and closes. A frame over the size limit is
// skipped up to its NUL.
func (s *Source) readTCP(conn net.Conn, emit func(message.Message)) {
	r := bufio.NewReaderSize(conn, tcpReadBuffer)
	dec := s.newDecoder()
	l := s.newLines(emit)
	defer l.finish()
	var frame []byte
	oversized := false
	// Bytes of an unfinished frame count against the budget all connections share.
	var held int
	release := func() {
		s.frameHeld.Add(-int64(held))
		held = 0
	}
	defer release()
	gather := func(part []byte) {
		if s.frameHeld.Add(int64(len(part))) > int64(s.cfg.MaxFrameBytes) {
			s.frameHeld.Add(-int64(len(part)))
			release()
			oversized, frame = true, frame[:0]
			s.reject(errorf(ReasonOverload, "tcp frames of all connections hold more than %d bytes", s.cfg.MaxFrameBytes), "tcp")
			return
		}
		held += len(part)
		frame = append(frame, part...)
	}
	lastActive := time.Now() // of the last read that returned bytes
	var lastSet time.Time    // the deadline set last
	for {
		deadline := s.tcpDeadline(l, lastActive)
		// Set only when it changes, or while draining: with no idle timeout and nothing
		// held, that is once per connection, not once a frame.
		if !deadline.Equal(lastSet) || r.Buffered() == 0 || s.draining.Load() {
			if err := s.setDeadline(conn, deadline); err != nil {
				return
			}
			lastSet = deadline
		}
		part, err := r.ReadSlice(0)
		now := time.Now()
		s.bytes.Add(uint64(len(part)))
		if len(part) > 0 {
			lastActive = now
		}
		switch {
		case err == nil:
			part = part[:len(part)-1]
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, os.ErrDeadlineExceeded) && s.draining.Load():
			// What is left after the drain deadline is counted, not lost in silence.
			// Frames are counted by their NULs: a frame begun here is counted when its
			// end is read below.
			n := bytes.Count(part, []byte{0})
			if buffered, _ := r.Peek(r.Buffered()); len(buffered) > 0 {
				n += bytes.Count(buffered, []byte{0})
			}
			s.discard("tcp_unread", n)
			s.discardLeft(conn, "tcp_unread", func(b []byte) int { return bytes.Count(b, []byte{0}) })
			return
		case errors.Is(err, os.ErrDeadlineExceeded) &&
			(s.cfg.IdleTimeout == 0 || now.Sub(lastActive) < s.cfg.IdleTimeout):
			// A wake-up for what the reader holds: keep what this frame has so far
			// (ReadSlice returned it in part), let out the pieces of split lines once the
			// socket has been quiet for JoinWait, and tick the grouping.
			if !oversized {
				gather(part)
			}
			if l.j.waiting() && now.Sub(lastActive) >= s.cfg.JoinWait {
				l.flushJoined()
			}
			l.tick(now)
			continue
		default:
			if len(frame)+len(part) > 0 && errors.Is(err, io.EOF) && !oversized {
				// A last message without its NUL: take it, as Graylog does.
				s.frames.Add(1)
				s.handle(dec, l, append(frame, part...), now, "tcp")
			}
			return
		}
		if !oversized {
			if len(frame)+len(part) > s.cfg.MaxMessageSize {
				oversized = true
				frame = frame[:0]
				release()
				s.reject(errorf(ReasonTooLarge, "tcp frame larger than %d bytes", s.cfg.MaxMessageSize), "tcp")
			} else if err == nil && len(frame) == 0 {
				frame = part // the common case: the whole frame is in the reader's buffer
			} else {
				gather(part)
			}
		}
		if err != nil {
			continue
		}
		if !oversized && len(frame) > 0 {
			s.frames.Add(1)
			s.handle(dec, l, frame, now, "tcp")
		}
		oversized = false
		frame = frame[:0:0]
		release()
	}
}

// tcpDeadline returns the deadline for a TCP connection's next read (zero for none): the
// soonest of the idle timeout, JoinWait after the last bytes read while pieces of split lines
// wait, and the grouping's next tick while it holds lines (not while draining: the lines are
// flushed when the reader returns, and an early deadline would end the drain).
func (s *Source) tcpDeadline(l *lines, lastActive time.Time) time.Time {
	var d time.Time
	soonest := func(t time.Time) {
		if d.IsZero() || t.Before(d) {
			d = t
		}
	}
	if s.cfg.IdleTimeout > 0 {
		soonest(lastActive.Add(s.cfg.IdleTimeout))
	}
	if l.j.waiting() {
		soonest(lastActive.Add(s.cfg.JoinWait))
	}
	if t, ok := l.g.wake(); ok && !s.draining.Load() {
		soonest(t)
	}
	return d
}

// serveHTTP serves GELF over HTTP on every HTTP listener, with timeouts and a connection cap
// so that slow or idle clients cannot hold the Source's memory or descriptors. The handlers
// share one grouping, which a goroutine of its own ticks; stop, called once the server has
// shut down, ends that goroutine, which flushes the grouping as it ends.
func (s *Source) serveHTTP(wg *sync.WaitGroup, emit func(message.Message)) (srv *http.Server, stop func()) {
	if len(s.httpLn) == 0 {
		return nil, func() {}
	}
	l := s.newLines(emit)
	l.mu, l.j = &sync.Mutex{}, nil // requests come concurrently, each a whole message
	srv = &http.Server{
		Handler:           s.httpHandler(l),
		ReadHeaderTimeout: s.cfg.HTTPTimeout,
		ReadTimeout:       s.cfg.HTTPTimeout,
		WriteTimeout:      s.cfg.HTTPTimeout,
		IdleTimeout:       s.cfg.HTTPTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	for _, ln := range s.httpLn {
		wg.Go(func() {
			err := srv.Serve(netutil.LimitListener(ln, s.cfg.MaxConnections))
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("gelf: serving http", "err", err)
			}
		})
	}
	if l.g == nil {
		return srv, func() {}
	}
	done := make(chan struct{})
	wg.Go(func() {
		defer l.finish()
		ticker := time.NewTicker(l.g.every)
		defer ticker.Stop()
		for {
			select {
			case now := <-ticker.C:
				l.tick(now)
			case <-done:
				return
			}
		}
	})
	return srv, func() { close(done) }
}

func (s *Source) httpHandler(l *lines) http.Handler {
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
		dec := decoders.Get().(*decoder)
		dec.maxMessageSize, dec.maxFields = s.cfg.MaxMessageSize, s.cfg.MaxFields
		err = s.handle(dec, l, body, time.Now(), "http")
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
	st := s.asm.stats() // the chunk counters
	s.mu.Lock()
	st.TCPConnections = len(s.conns)
	s.mu.Unlock()
	st.Datagrams = s.datagrams.Load()
	st.Chunks = s.chunks.Load()
	st.TCPFrames = s.frames.Load()
	st.HTTPRequests = s.requests.Load()
	st.Bytes = s.bytes.Load()
	st.Messages = s.messages.Load()
	st.JoinedPieces = s.joined.Load()
	st.JoinReleased = s.released.Load()
	st.Clamped = s.clamped.Load()
	st.KernelDrops = s.currentDrops()
	st.Discarded = s.discardedSnapshot()
	st.Rejected = s.rejected.snapshot()
	if s.budget != nil {
		st.Multiline = s.budget.Stats()
	}
	return st
}

func (s *Source) discardedSnapshot() map[string]uint64 {
	s.discardMu.Lock()
	defer s.discardMu.Unlock()
	if len(s.discarded) == 0 {
		return nil
	}
	return maps.Clone(s.discarded)
}

// currentDrops is the kernel's drop count, read from the sockets while they are open.
func (s *Source) currentDrops() uint64 {
	if s.udpClosed.Load() {
		return s.closedDrops.Load()
	}
	return s.kernelDrops()
}

// kernelDrops sums the drop counters of the UDP sockets.
func (s *Source) kernelDrops() uint64 {
	var n uint64
	for _, c := range s.udp {
		n += socketDrops(c)
	}
	return n
}
