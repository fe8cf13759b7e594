// Command logger prints numbered lines for end-to-end tests of log collection: line i is
// lines.Line(id, stream, i, lines.Size(i, min, max)), so a test knows what each must be.
// With -stream both, even lines go to stdout and odd ones to stderr.
//
// With -blocks it prints what it reads from standard input instead, block by block: a line
// "\fstdout" or "\fstderr" begins a block for that stream, each block is written in one
// write, as a runtime writes a stack trace, and -every pauses between blocks.
//
// With -script it runs a script -n times instead, so that a test chooses every line and the
// pauses between them: each line of the script is "out TEXT" or "err TEXT", which prints TEXT
// on stdout or stderr with {i} replaced by the run's number (0, 1, …), or "sleep DURATION".
// What is printed between two pauses goes out in one write per stream, as a runtime writes a
// stack trace.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/qnib/qwatch/internal/dockertest/lines"
)

func main() {
	id := flag.String("id", "x", "identifier that starts every line")
	n := flag.Int("n", 10, "number of lines")
	minSize := flag.Int("min", 10, "smallest line, in bytes without the newline")
	maxSize := flag.Int("max", 10, "largest line")
	stream := flag.String("stream", "stdout", "stdout, stderr or both")
	every := flag.Duration("every", 0, "pause between lines, or between blocks")
	blocks := flag.Bool("blocks", false, "print the blocks read from standard input")
	script := flag.String("script", "", "a script to run -n times instead: lines \"out TEXT\", \"err TEXT\", \"sleep DURATION\"")
	flag.Parse()
	if *blocks {
		if err := printBlocks(os.Stdin, *every); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	errOut := bufio.NewWriterSize(os.Stderr, 1<<20)
	if *script != "" {
		if err := run(*script, *n, out, errOut); err != nil {
			fmt.Fprintln(os.Stderr, "logger:", err)
			os.Exit(2)
		}
		return
	}
	for i := range *n {
		name := *stream
		if name == "both" {
			name = lines.Stream(i)
		}
		w := out
		if name == "stderr" {
			w = errOut
		}
		fmt.Fprintln(w, lines.Line(*id, name, i, lines.Size(i, *minSize, *maxSize)))
		if *every > 0 {
			out.Flush()
			errOut.Flush()
			time.Sleep(*every)
		}
	}
	out.Flush()
	errOut.Flush()
}

// printBlocks prints the blocks of in, each in one write to its stream, pausing every
// between them.
func printBlocks(in io.Reader, every time.Duration) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	for i, block := range bytes.Split(data, []byte("\f"))[1:] {
		name, text, _ := bytes.Cut(block, []byte("\n"))
		w := os.Stdout
		if string(name) == "stderr" {
			w = os.Stderr
		}
		if i > 0 {
			time.Sleep(every)
		}
		if _, err := w.Write(text); err != nil {
			return err
		}
	}
	return nil
}

// run runs the script n times.
func run(script string, n int, out, errOut *bufio.Writer) error {
	flush := func() {
		out.Flush()
		errOut.Flush()
	}
	defer flush()
	steps := strings.Split(strings.TrimSuffix(script, "\n"), "\n")
	for i := range n {
		num := strconv.Itoa(i)
		for _, step := range steps {
			op, arg, _ := strings.Cut(step, " ")
			switch op {
			case "out":
				fmt.Fprintln(out, strings.ReplaceAll(arg, "{i}", num))
			case "err":
				fmt.Fprintln(errOut, strings.ReplaceAll(arg, "{i}", num))
			case "sleep":
				d, err := time.ParseDuration(arg)
				if err != nil {
					return fmt.Errorf("script line %q: %w", step, err)
				}
				flush()
				time.Sleep(d)
			default:
				return fmt.Errorf("script line %q: want out, err or sleep", step)
			}
		}
	}
	return nil
}
