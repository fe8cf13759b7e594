// Command gelfload sends numbered GELF load as Docker's GELF driver sends it, and checks what
// a receiver got.
//
//	gelfload -addr 127.0.0.1:12201 -proto udp -compress gzip -n 300000
//	gelfload -proto tcp -conns 100 -n 300000 -rate 50000
//	qwatchd -stdout json | gelfload check -n 300000
//
// Lines start with the run name, the container number and the message's number for that
// container ("load c3 1234 …"), spread round-robin over -containers container IDs, 50 B to
// 2 KiB long, every 20th 2 KiB, which chunks it over UDP. check reads JSON lines (qwatchd's
// -stdout json) or plain lines on stdin and reports lost, duplicated and reordered
// messages; it exits 1 if any were lost or duplicated.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/qnib/qwatch/internal/gelfload"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(check(os.Args[2:], os.Stdin, os.Stdout))
	}
	os.Exit(send(os.Args[1:]))
}

func loadFlags(fs *flag.FlagSet) *gelfload.Config {
	cfg := &gelfload.Config{}
	fs.StringVar(&cfg.Run, "run", "load", "name that starts every line")
	fs.IntVar(&cfg.Count, "n", 100000, "messages to send")
	fs.IntVar(&cfg.Containers, "containers", 10, "distinct container IDs")
	fs.IntVar(&cfg.MinLine, "min", 50, "shortest line, bytes")
	fs.IntVar(&cfg.MaxLine, "max", 2048, "longest line, bytes")
	return cfg
}

func send(args []string) int {
	fs := flag.NewFlagSet("gelfload", flag.ExitOnError)
	cfg := loadFlags(fs)
	addr := fs.String("addr", "127.0.0.1:12201", "where to send")
	proto := fs.String("proto", "udp", "udp or tcp")
	fs.StringVar(&cfg.Compression, "compress", "gzip", "UDP compression: gzip, zlib or none")
	rate := fs.Int("rate", 0, "messages a second; 0 sends flat out")
	conns := fs.Int("conns", 1, "TCP connections")
	fs.Parse(args)
	if *proto != "udp" && *proto != "tcp" {
		fmt.Fprintf(os.Stderr, "gelfload: -proto %q: want udp or tcp\n", *proto)
		return 2
	}
	msgs, err := gelfload.Make(*cfg, *proto == "udp")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := gelfload.Send(ctx, *proto, *addr, msgs, *rate, *conns)
	fmt.Printf("sent %d messages in %d packets (%d bytes) in %v: %.0f msg/s\n",
		s.Messages, s.Packets, s.Bytes, s.Took.Round(time.Millisecond), float64(s.Messages)/s.Took.Seconds())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func check(args []string, in io.Reader, out io.Writer) int {
	fs := flag.NewFlagSet("gelfload check", flag.ExitOnError)
	cfg := loadFlags(fs)
	fs.Parse(args)
	t := gelfload.NewTally(cfg.Run, max(cfg.Containers, 1))
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var doc struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(line, &doc) == nil && doc.Message != "" {
			t.Add(doc.Message)
		} else {
			t.Add(string(line))
		}
	}
	r := t.Report(cfg.Count)
	fmt.Fprintf(out, "sent %d, received %d: lost %d, duplicated %d, reordered %d (other lines %d)\n",
		r.Sent, r.Unique, r.Lost, r.Duplicated, r.Reordered, r.Foreign)
	if r.Lost != 0 || r.Duplicated != 0 {
		return 1
	}
	return 0
}
