// Package qwatchtest helps test code built on qwatch: [Recorder] is a sink that keeps what it
// receives, [Replay] a source that emits given messages, and [TestSink] a conformance harness
// that checks any [qwatch.Sink] keeps the contract, in the spirit of testing/slogtest.
//
// A sink author runs the harness from a test of their own:
//
//	func TestConformance(t *testing.T) {
//		var buf *bytes.Buffer
//		qwatchtest.TestSink(t,
//			func(t *testing.T) qwatch.Sink { buf = new(bytes.Buffer); return mysink.New(buf) },
//			func(t *testing.T) []message.Message { return mysink.Parse(t, buf) })
//	}
package qwatchtest
