// Package qwatchtest helps test code built on qwatch: [Recorder] is a sink that keeps what it
// receives, [Collector] gathers what a source emits, [Replay] is a source that emits given
// messages, and [TestSink] and [TestSource] are conformance harnesses that check any
// [qwatch.Sink] or [qwatch.Source] keeps the contract, in the spirit of testing/slogtest.
// [TestSource] checks a [qwatch.BatchSource] through Run and again through RunBatch.
//
// A sink author runs the sink harness from a test of their own:
//
//	func TestConformance(t *testing.T) {
//		var buf *bytes.Buffer
//		qwatchtest.TestSink(t,
//			func(t *testing.T) qwatch.Sink { buf = new(bytes.Buffer); return mysink.New(buf) },
//			func(t *testing.T) []message.Message { return mysink.Parse(t, buf) })
//	}
//
// A source author tells the source harness how to make the source and how to make it produce
// messages:
//
//	func TestConformance(t *testing.T) {
//		var src *mysource.Source
//		qwatchtest.TestSource(t, qwatchtest.SourceKit{
//			New: func(t *testing.T) qwatch.Source {
//				var err error
//				src, err = mysource.Listen("127.0.0.1:0")
//				if err != nil {
//					t.Fatal(err)
//				}
//				return src
//			},
//			Feed: func(t *testing.T, n int) { sendLines(t, src.Addr(), n) },
//			NewInvalid: func(t *testing.T) error {
//				_, err := mysource.Listen("256.0.0.1:0")
//				return err
//			},
//		})
//	}
package qwatchtest
