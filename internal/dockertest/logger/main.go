// Command logger prints numbered lines for end-to-end tests of log collection: line i is
// lines.Line(id, stream, i, lines.Size(i, min, max)), so a test knows what each must be.
// With -stream both, even lines go to stdout and odd ones to stderr.
//
// With -blocks it prints what it reads from standard input instead, block by block: a line
// "\fstdout" or "\fstderr" begins a block for that stream, each block is written in one
// write, as a runtime writes a stack trace, and -every pauses between blocks.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
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
