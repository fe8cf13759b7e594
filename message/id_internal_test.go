package message

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// encodeID must give what a plain base-32 encoding of the 128-bit number hi:lo gives.
func TestEncodeIDIsBase32OfTheNumber(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := [][2]uint64{{0, 0}, {^uint64(0), ^uint64(0)}, {1, 0}, {0, 1 << 63}, {1 << 63, 1}}
	for range 10000 {
		cases = append(cases, [2]uint64{r.Uint64(), r.Uint64()})
	}
	for _, c := range cases {
		n := new(big.Int).Lsh(new(big.Int).SetUint64(c[0]), 64)
		n.Or(n, new(big.Int).SetUint64(c[1]))
		want := n.Text(32)
		for len(want) < IDLen {
			want = "0" + want
		}
		if got := encodeID(c[0], c[1]); got != want {
			t.Fatalf("encodeID(%#x, %#x) = %q, want %q", c[0], c[1], got, want)
		}
	}
}
