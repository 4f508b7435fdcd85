// Command ledger-interop checks the ledger's signed checkpoints, inclusion proofs (tlog-proof@v1
// files) and consistency proofs with the reference implementations: golang.org/x/mod/sumdb/note
// for the signed notes and github.com/transparency-dev/merkle for the RFC 6962 proofs.
//
//	ledger-interop -vkey VKEY -checkpoint NOTE [-old NOTE -consistency HASHES] [PROOF...]
//
// It prints one "ok" line per check and exits 0, or prints what failed and exits 1.
package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

type checkpoint struct {
	origin string
	size   uint64
	root   []byte
}

func openCheckpoint(data []byte, verifier note.Verifier) (checkpoint, error) {
	n, err := note.Open(data, note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, fmt.Errorf("signed note: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return checkpoint{}, fmt.Errorf("checkpoint text: want origin, size and root lines")
	}
	if lines[0] != verifier.Name() {
		return checkpoint{}, fmt.Errorf("checkpoint origin %q is not the key name %q", lines[0], verifier.Name())
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint size: %w", err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return checkpoint{}, fmt.Errorf("checkpoint root is not a base64 SHA-256 hash")
	}
	return checkpoint{lines[0], size, root}, nil
}

func hashes(lines []string) ([][]byte, error) {
	var out [][]byte
	for _, line := range lines {
		if line == "" {
			continue
		}
		h, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("hash %q: %w", line, err)
		}
		out = append(out, h)
	}
	return out, nil
}

// checkProof verifies one c2sp.org/tlog-proof@v1 file: the checkpoint's signature, then the
// inclusion of the leaf hash of its extra data (the entry) at its index.
func checkProof(data []byte, verifier note.Verifier) (string, error) {
	head, cp, found := bytes.Cut(data, []byte("\n\n"))
	if !found {
		return "", fmt.Errorf("no blank line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" {
		return "", fmt.Errorf("first line is %q", lines[0])
	}
	lines = lines[1:]
	var extra []byte
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		var err error
		if extra, err = base64.StdEncoding.DecodeString(lines[0][6:]); err != nil {
			return "", fmt.Errorf("extra: %w", err)
		}
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return "", fmt.Errorf("no index line")
	}
	index, err := strconv.ParseUint(lines[0][6:], 10, 64)
	if err != nil {
		return "", fmt.Errorf("index: %w", err)
	}
	path, err := hashes(lines[1:])
	if err != nil {
		return "", err
	}
	c, err := openCheckpoint(cp, verifier)
	if err != nil {
		return "", err
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(extra)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, c.size, leaf, path, c.root); err != nil {
		return "", fmt.Errorf("inclusion of index %d in size %d: %w", index, c.size, err)
	}
	return fmt.Sprintf("ok inclusion index=%d size=%d", index, c.size), nil
}

func main() {
	vkey := flag.String("vkey", "", "the ledger's verifier key (ledger audit public-key)")
	current := flag.String("checkpoint", "", "a signed checkpoint (ledger checkpoint)")
	old := flag.String("old", "", "an earlier signed checkpoint")
	consistency := flag.String("consistency", "", "file of the consistency proof from -old to -checkpoint, one base64 hash a line")
	flag.Parse()
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
		os.Exit(1)
	}
	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	read := func(name string) []byte {
		data, err := os.ReadFile(name)
		if err != nil {
			fail("%v", err)
		}
		return data
	}
	if *current != "" {
		c, err := openCheckpoint(read(*current), verifier)
		if err != nil {
			fail("checkpoint %s: %v", *current, err)
		}
		fmt.Printf("ok checkpoint size=%d\n", c.size)
		if *old != "" {
			o, err := openCheckpoint(read(*old), verifier)
			if err != nil {
				fail("checkpoint %s: %v", *old, err)
			}
			path, err := hashes(strings.Split(string(read(*consistency)), "\n"))
			if err != nil {
				fail("consistency proof: %v", err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, o.size, c.size, path, o.root, c.root); err != nil {
				fail("consistency %d -> %d: %v", o.size, c.size, err)
			}
			fmt.Printf("ok consistency %d->%d\n", o.size, c.size)
		}
	}
	for _, name := range flag.Args() {
		line, err := checkProof(read(name), verifier)
		if err != nil {
			fail("proof %s: %v", name, err)
		}
		fmt.Println(line)
	}
}
