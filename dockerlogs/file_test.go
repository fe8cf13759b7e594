package dockerlogs_test

import (
	"testing"
)

// The tests of the fake engine run again with the containers' logs read from their
// json-files: every guarantee holds on both readers. (Not TestFakeDrainAfterAShortFollow: the
// logs endpoint's fault it is about does not touch a file.)
func TestFakeFileReader(t *testing.T) {
	for _, tt := range []struct {
		name string
		test func(*testing.T)
	}{
		{"EveryLineWithFields", TestFakeEveryLineWithFields},
		{"ResumeAtTheExactLine", TestFakeResumeAtTheExactLine},
		{"CheckpointOnlyAfterFlush", TestFakeCheckpointOnlyAfterFlush},
		{"Pieces", TestFakePieces},
		{"TTY", TestFakeTTY},
		{"Selection", TestFakeSelection},
		{"UnreadableDriverSaidByTheEngine", TestFakeUnreadableDriverSaidByTheEngine},
		{"CheckpointsExpire", TestFakeCheckpointsExpire},
		{"AttachErrors", TestFakeAttachErrors},
		{"QuickRmContainer", TestFakeQuickRmContainer},
		{"BackfillsAreLimited", TestFakeBackfillsAreLimited},
		{"RunWaitsForTheEngine", TestFakeRunWaitsForTheEngine},
		{"SourceConformance", TestFakeSourceConformance},
		{"CorruptCheckpoint", TestFakeCorruptCheckpoint},
		{"StoppedWhileNoSourceRan", TestFakeStoppedWhileNoSourceRan},
		{"MultilineRecordedTraces", TestFakeMultilineRecordedTraces},
		{"MultilineLabels", TestFakeMultilineLabels},
		{"MultilineIdle", TestFakeMultilineIdle},
		{"MultilineQuickRmContainer", TestFakeMultilineQuickRmContainer},
		{"MultilineStopMidTrace", TestFakeMultilineStopMidTrace},
		{"MultilineCrashMidTrace", TestFakeMultilineCrashMidTrace},
	} {
		t.Run(tt.name, func(t *testing.T) {
			readFiles = true
			defer func() { readFiles = false }()
			tt.test(t)
		})
	}
}
