// Package gelfload makes numbered GELF load as Docker's GELF driver sends it, sends it over
// UDP or TCP flat out or at a rate, and tallies what a receiver got: lost, duplicated and
// reordered messages.
//
// The payloads are made before sending, so that the sender is not the limit of a
// measurement: Docker's fields, gzip or zlib at the driver's level (flate.BestSpeed), UDP
// chunks of 1,420 bytes as the driver cuts them, and a NUL after each TCP frame.
package gelfload

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Config describes the load. The zero value is 10 containers, lines of 50 B to 2 KiB,
// gzip.
type Config struct {
	Run        string // starts every line, so a receiver tells this run's lines apart ("load")
	Count      int    // messages in all
	Containers int    // distinct container IDs, the messages spread round-robin (10)
	MinLine    int    // shortest line in bytes (50)
	MaxLine    int    // longest line (2,048); every 20th line has it, which chunks it over UDP
	// Compression is "gzip" (Docker's default), "zlib" or "none"; TCP is always "none", as
	// Docker's driver sends it.
	Compression string
}

func (c *Config) setDefaults() {
	if c.Run == "" {
		c.Run = "load"
	}
	if c.Containers <= 0 {
		c.Containers = 10
	}
	if c.MinLine <= 0 {
		c.MinLine = 50
	}
	if c.MaxLine < c.MinLine {
		c.MaxLine = max(2048, c.MinLine)
	}
	if c.Compression == "" {
		c.Compression = "gzip"
	}
}

// ChunkSize is the size of the datagrams Docker's driver cuts a message into, header
// included.
const ChunkSize = 1420

// Message is one numbered message: datagrams to send over UDP (one, or the chunks of one
// message) or, over TCP, one frame.
type Message struct {
	Container int
	Seq       int // per container, from 0
	Packets   [][]byte
}

// Make returns the messages of the load, for UDP when udp is true, for TCP otherwise.
func Make(cfg Config, udp bool) ([]Message, error) {
	cfg.setDefaults()
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, cfg.Containers)
	for i := range ids {
		ids[i] = fmt.Sprintf("%064x", rng.Uint64())[:64]
	}
	created := time.Date(2026, 11, 23, 22, 26, 45, 598004359, time.UTC).Format(time.RFC3339Nano)
	seqs := make([]int, cfg.Containers)
	msgs := make([]Message, 0, cfg.Count)
	var chunkID uint64
	comp, err := newCompressor(cfg.Compression)
	if err != nil {
		return nil, err
	}
	for i := range cfg.Count {
		c := i % cfg.Containers
		seq := seqs[c]
		seqs[c]++
		doc := map[string]any{
			"version": "1.1", "host": "loadhost", "level": 6,
			"short_message":   Text(cfg.Run, c, seq, lineSize(i, cfg.MinLine, cfg.MaxLine), rng),
			"timestamp":       float64(time.Now().UnixMicro()) / 1e6,
			"_command":        "/app --serve",
			"_container_id":   ids[c],
			"_container_name": fmt.Sprintf("load-%d", c),
			"_created":        created,
			"_image_id":       "sha256:68e3a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e",
			"_image_name":     "load:latest",
			"_tag":            fmt.Sprintf("load-%d", c),
		}
		js, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		m := Message{Container: c, Seq: seq}
		if !udp {
			m.Packets = [][]byte{append(js, 0)}
			msgs = append(msgs, m)
			continue
		}
		chunkID++
		payload := comp.compress(js)
		m.Packets = chunk(payload, chunkID)
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// lineSize spreads sizes on a log scale between lo and hi, most lines short; every 20th
// line has the largest size.
func lineSize(i, lo, hi int) int {
	if i%20 == 1 || hi == lo {
		return hi
	}
	u := float64((i*7919)%1000) / 1000
	return int(float64(lo) * math.Pow(float64(hi)/float64(lo), u))
}

// Text is the line of a container's message seq: the run, the container, the number, then
// random letters up to size, which compress about as well as real log lines.
func Text(run string, container, seq, size int, rng *rand.Rand) string {
	b := fmt.Appendf(nil, "%s c%d %d ", run, container, seq)
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
	for len(b) < size {
		b = append(b, letters[rng.IntN(len(letters))])
	}
	return string(b)
}

// compressor compresses payloads as Docker's driver does, reusing its writers: a flate
// writer costs a megabyte to set up.
type compressor struct {
	how string
	buf bytes.Buffer
	gz  *gzip.Writer
	zl  *zlib.Writer
}

func newCompressor(how string) (*compressor, error) {
	c := &compressor{how: how}
	switch how {
	case "none":
	case "gzip":
		c.gz, _ = gzip.NewWriterLevel(&c.buf, flate.BestSpeed)
	case "zlib":
		c.zl, _ = zlib.NewWriterLevel(&c.buf, flate.BestSpeed)
	default:
		return nil, fmt.Errorf("gelfload: compression %q: want gzip, zlib or none", how)
	}
	return c, nil
}

func (c *compressor) compress(js []byte) []byte {
	c.buf.Reset()
	switch {
	case c.gz != nil:
		c.gz.Reset(&c.buf)
		c.gz.Write(js)
		c.gz.Close()
	case c.zl != nil:
		c.zl.Reset(&c.buf)
		c.zl.Write(js)
		c.zl.Close()
	default:
		return js
	}
	return bytes.Clone(c.buf.Bytes())
}

// chunk cuts a payload longer than a datagram into GELF chunks: magic 0x1e 0x0f, an 8-byte
// message ID, the sequence number and the count, then the data.
func chunk(payload []byte, id uint64) [][]byte {
	if len(payload) <= ChunkSize {
		return [][]byte{payload}
	}
	const head = 12
	per := ChunkSize - head
	n := (len(payload) + per - 1) / per
	out := make([][]byte, 0, n)
	for i := range n {
		part := payload[i*per : min((i+1)*per, len(payload))]
		p := make([]byte, head, head+len(part))
		p[0], p[1] = 0x1e, 0x0f
		binary.BigEndian.PutUint64(p[2:], id)
		p[10], p[11] = byte(i), byte(n)
		out = append(out, append(p, part...))
	}
	return out
}
