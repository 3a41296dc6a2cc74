// Command tlogcheck checks an Accord revocation log over HTTP with Go's sumdb note and tlog packages
// (golang.org/x/mod), an implementation Accord did not write: the checkpoint's note signature, the
// tiles against the checkpoint, every entry bundle against the tiles, and the JSON inclusion and
// consistency proofs. Given cosigner keys, it also checks the checkpoint's C2SP tlog-cosignature
// (cosignature/v1, Ed25519) lines with crypto/ed25519 over the message the spec defines, since the
// note package leaves signature type 0x04 to its callers. It prints one JSON summary and exits 1 on
// any failure.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

type summary struct {
	OK                 bool     `json:"ok"`
	Origin             string   `json:"origin"`
	Size               int64    `json:"size"`
	RootHash           string   `json:"root_hash"`
	Extensions         []string `json:"extensions"`
	TilesRead          int      `json:"tiles_read"`
	EntriesChecked     int      `json:"entries_checked"`
	InclusionChecked   int      `json:"inclusion_proofs_checked"`
	ConsistencyChecked int      `json:"consistency_proofs_checked"`
	CheckpointsChecked int      `json:"checkpoints_checked"`
	Cosignatures       []cosig  `json:"cosignatures"`
	Failures           []string `json:"failures"`
}

// cosig is one cosignature/v1 line of the latest checkpoint that verified under a configured cosigner key.
type cosig struct {
	Name      string `json:"name"`
	KeyID     string `json:"key_id"`
	Timestamp uint64 `json:"timestamp"`
}

var (
	baseURL   = flag.String("url", "", "the log prefix, e.g. http://127.0.0.1:8443/log")
	vkeys     = flag.String("vkeys", "", "comma-separated note verifier keys trusted for the checkpoint")
	origin    = flag.String("origin", "", "the expected checkpoint origin")
	history   = flag.Bool("history", true, "also check every earlier checkpoint (GET checkpoints) and its consistency with the latest")
	sample    = flag.Int("sample", 0, "prove every Nth entry only by inclusion proofs, from tiles and JSON (0: every entry); all are checked against the tiles")
	noteOnly  = flag.Bool("note-only", false, "check only the checkpoint note and its cosignatures (e.g. a witness's monitoring view at URL/checkpoint), not the tree")
	cosigners = flag.String("cosigners", "", "comma-separated cosignature/v1 vkeys (name+hex key id+base64(0x04 || Ed25519 key)); each must have cosigned the latest checkpoint")
)

// cosigner is a cosignature/v1 key as c2sp.org/tlog-cosignature defines it.
type cosigner struct {
	name  string
	keyID uint32
	key   ed25519.PublicKey
}

// cosignatureKeyID is SHA-256(name || "\n" || 0x04 || 32-byte Ed25519 public key)[:4], big-endian.
func cosignatureKeyID(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', 0x04})
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil)[:4])
}

// parseCosigner reads a vkey of signature type 0x04 and checks its key id against its name and key.
func parseCosigner(vkey string) (cosigner, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 || parts[0] == "" || len(parts[1]) != 8 {
		return cosigner{}, errors.New("not name+keyid+key")
	}
	id, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return cosigner{}, errors.New("key id is not 8 hex digits")
	}
	material, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(material) != 1+ed25519.PublicKeySize || material[0] != 0x04 {
		return cosigner{}, errors.New("key is not base64(0x04 || 32-byte Ed25519 key)")
	}
	key := ed25519.PublicKey(material[1:])
	if cosignatureKeyID(parts[0], key) != uint32(id) {
		return cosigner{}, errors.New("key id does not match the name and key")
	}
	return cosigner{name: parts[0], keyID: uint32(id), key: key}, nil
}

// cosignedMessage is what a cosignature/v1 signs: the header line, the time line, then the whole note text.
func cosignedMessage(text string, timestamp uint64) []byte {
	return []byte("cosignature/v1\ntime " + strconv.FormatUint(timestamp, 10) + "\n" + text)
}

// checkCosignatures verifies, for each cosigner, the signature lines of the note under its name and key id:
// each must be 4 + 8 + 64 bytes (key id, big-endian timestamp below 2^63, Ed25519 signature) and verify;
// at least one must be there.
func checkCosignatures(n *note.Note, list []cosigner, s *summary, fail func(string, ...interface{})) {
	for _, c := range list {
		found := 0
		for _, sig := range append(append([]note.Signature{}, n.Sigs...), n.UnverifiedSigs...) {
			if sig.Name != c.name || sig.Hash != c.keyID {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(sig.Base64)
			if err != nil || len(raw) != 4+8+ed25519.SignatureSize {
				fail("cosignature of %s: not key id, timestamp and an Ed25519 signature (%d bytes)", c.name, len(raw))
				continue
			}
			timestamp := binary.BigEndian.Uint64(raw[4:12])
			if timestamp > 1<<63-1 {
				fail("cosignature of %s: timestamp beyond 2^63-1", c.name)
				continue
			}
			if !ed25519.Verify(c.key, cosignedMessage(n.Text, timestamp), raw[12:]) {
				fail("cosignature of %s (time %d) does not verify", c.name, timestamp)
				continue
			}
			found++
			s.Cosignatures = append(s.Cosignatures, cosig{Name: c.name, KeyID: fmt.Sprintf("%08x", c.keyID), Timestamp: timestamp})
		}
		if found == 0 {
			fail("no cosignature of %s+%08x on the checkpoint", c.name, c.keyID)
		}
	}
}

// tileServer fetches each tile once; TileHashReader still checks every tile it is handed against the tree.
type tileServer struct {
	reads int
	cache map[string][]byte
}

func get(path string) ([]byte, error) {
	res, err := http.Get(strings.TrimRight(*baseURL, "/") + "/" + path)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: HTTP %d", path, res.StatusCode)
	}
	return body, nil
}

func (s *tileServer) Height() int { return height }

// ReadTiles maps Go's tile paths (tile/8/L/N, which name the height) to C2SP's (tile/L/N, which do not).
func (s *tileServer) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := "tile/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", height))
		data, ok := s.cache[path]
		if !ok {
			var err error
			if data, err = get(path); err != nil {
				return nil, err
			}
			s.reads++
			s.cache[path] = data
		}
		out[i] = data
	}
	return out, nil
}

func (s *tileServer) SaveTiles([]tlog.Tile, [][]byte) {}

type checkpoint struct {
	origin     string
	size       int64
	root       tlog.Hash
	extensions []string
}

func openCheckpoint(msg []byte, verifiers note.Verifiers) (checkpoint, *note.Note, error) {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return checkpoint{}, nil, fmt.Errorf("note: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return checkpoint{}, nil, errors.New("checkpoint has fewer than three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, nil, errors.New("malformed tree size")
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return checkpoint{}, nil, errors.New("malformed root hash")
	}
	var h tlog.Hash
	copy(h[:], root)
	return checkpoint{origin: lines[0], size: size, root: h, extensions: lines[3:]}, n, nil
}

func parseRef(ref string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := hex.DecodeString(strings.TrimPrefix(ref, "sha256:"))
	if err != nil || len(b) != tlog.HashSize || !strings.HasPrefix(ref, "sha256:") {
		return h, fmt.Errorf("malformed hash %q", ref)
	}
	copy(h[:], b)
	return h, nil
}

func parseRefs(refs []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(refs))
	for i, r := range refs {
		h, err := parseRef(r)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

func getJSON(path string, v interface{}) error {
	body, err := get(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// bundleEntries splits an entry bundle: big-endian uint16 length, then the entry bytes.
func bundleEntries(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, errors.New("truncated length prefix")
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, errors.New("truncated entry")
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	return out, nil
}

func main() {
	flag.Parse()
	s := summary{Failures: []string{}, Cosignatures: []cosig{}}
	fail := func(format string, args ...interface{}) {
		s.Failures = append(s.Failures, fmt.Sprintf(format, args...))
	}
	defer func() {
		s.OK = len(s.Failures) == 0
		out, _ := json.Marshal(s)
		fmt.Println(string(out))
		if !s.OK {
			os.Exit(1)
		}
	}()

	var list []note.Verifier
	for _, k := range strings.Split(*vkeys, ",") {
		v, err := note.NewVerifier(k)
		if err != nil {
			fail("vkey %q: %v", k, err)
			return
		}
		list = append(list, v)
	}
	verifiers := note.VerifierList(list...)
	var cosignerList []cosigner
	if *cosigners != "" {
		for _, k := range strings.Split(*cosigners, ",") {
			c, err := parseCosigner(k)
			if err != nil {
				fail("cosigner vkey %q: %v", k, err)
				return
			}
			cosignerList = append(cosignerList, c)
		}
	}

	msg, err := get("checkpoint")
	if err != nil {
		fail("%v", err)
		return
	}
	cp, opened, err := openCheckpoint(msg, verifiers)
	if err != nil {
		fail("checkpoint: %v", err)
		return
	}
	checkCosignatures(opened, cosignerList, &s, fail)
	s.Origin, s.Size, s.RootHash, s.Extensions = cp.origin, cp.size, cp.root.String(), cp.extensions
	if *origin != "" && cp.origin != *origin {
		fail("checkpoint origin %q, expected %q", cp.origin, *origin)
	}
	if cp.size == 0 || *noteOnly {
		return
	}

	tiles := &tileServer{cache: map[string][]byte{}}
	tree := tlog.Tree{N: cp.size, Hash: cp.root}
	hashes := tlog.TileHashReader(tree, tiles)
	defer func() { s.TilesRead = tiles.reads }()

	// The tiles must hash to the signed root: this authenticates them.
	if th, err := tlog.TreeHash(cp.size, hashes); err != nil {
		fail("tree hash from tiles: %v", err)
		return
	} else if th != cp.root {
		fail("tiles hash to %v, checkpoint says %v", th, cp.root)
		return
	}

	// Every entry of every bundle, proved into the signed tree from the tiles, and by the JSON proof.
	for start := int64(0); start < cp.size; start += 256 {
		width := cp.size - start
		if width > 256 {
			width = 256
		}
		path := "tile/entries/" + strings.TrimPrefix(tlog.Tile{H: height, L: 0, N: start / 256, W: int(width)}.Path(), "tile/8/0/")
		data, err := get(path)
		if err != nil {
			fail("%v", err)
			return
		}
		entries, err := bundleEntries(data)
		if err != nil || int64(len(entries)) != width {
			fail("%s: %d entries (%v), expected %d", path, len(entries), err, width)
			return
		}
		// Every entry against its leaf hash in the tiles; sampled ones also by full inclusion proofs.
		indexes := make([]int64, len(entries))
		for i := range entries {
			indexes[i] = tlog.StoredHashIndex(0, start+int64(i))
		}
		leaves, err := hashes.ReadHashes(indexes)
		if err != nil {
			fail("%s: leaf hashes from tiles: %v", path, err)
			return
		}
		for i, e := range entries {
			index := start + int64(i)
			leaf := tlog.RecordHash(e)
			if leaf != leaves[i] {
				fail("entry %d: bundle entry does not hash to the leaf in the tiles", index)
				continue
			}
			s.EntriesChecked++
			if *sample > 0 && index%int64(*sample) != 0 && index != cp.size-1 {
				continue
			}
			var parsed struct {
				Index *int64 `json:"index"`
			}
			if json.Unmarshal(e, &parsed) != nil || parsed.Index == nil || *parsed.Index != index {
				fail("entry %d: not a revocation entry with that index", index)
			}
			proof, err := tlog.ProveRecord(cp.size, index, hashes)
			if err != nil {
				fail("entry %d: proof from tiles: %v", index, err)
				continue
			}
			if err := tlog.CheckRecord(proof, cp.size, cp.root, index, leaf); err != nil {
				fail("entry %d: bundle entry is not the leaf the tiles commit to: %v", index, err)
				continue
			}
			var served struct {
				Index    int64    `json:"index"`
				Size     int64    `json:"size"`
				LeafHash string   `json:"leaf_hash"`
				RootHash string   `json:"root_hash"`
				Proof    []string `json:"proof"`
			}
			if err := getJSON(fmt.Sprintf("proof/inclusion?index=%d&size=%d", index, cp.size), &served); err != nil {
				fail("entry %d: inclusion proof: %v", index, err)
				continue
			}
			p, err := parseRefs(served.Proof)
			if err != nil {
				fail("entry %d: %v", index, err)
				continue
			}
			if err := tlog.CheckRecord(p, cp.size, cp.root, index, leaf); err != nil {
				fail("entry %d: JSON inclusion proof: %v", index, err)
				continue
			}
			s.InclusionChecked++
		}
	}

	if !*history {
		return
	}
	// Every earlier checkpoint: signed by a trusted key, and a prefix of the latest tree, by the JSON
	// consistency proof and by one computed from the tiles.
	since := 0
	for {
		var page struct {
			Checkpoints []struct {
				Sequence int    `json:"sequence"`
				Note     string `json:"note"`
			} `json:"checkpoints"`
			More bool `json:"more"`
		}
		if err := getJSON(fmt.Sprintf("checkpoints?since=%d", since), &page); err != nil {
			fail("checkpoints: %v", err)
			return
		}
		for _, c := range page.Checkpoints {
			since = c.Sequence
			old, _, err := openCheckpoint([]byte(c.Note), verifiers)
			if err != nil {
				fail("checkpoint %d: %v", c.Sequence, err)
				continue
			}
			s.CheckpointsChecked++
			if old.size == 0 || old.size > cp.size {
				continue
			}
			var served struct {
				Proof []string `json:"proof"`
			}
			if err := getJSON(fmt.Sprintf("proof/consistency?from=%d&to=%d", old.size, cp.size), &served); err != nil {
				fail("checkpoint %d: consistency proof: %v", c.Sequence, err)
				continue
			}
			p, err := parseRefs(served.Proof)
			if err != nil {
				fail("checkpoint %d: %v", c.Sequence, err)
				continue
			}
			if err := tlog.CheckTree(p, cp.size, cp.root, old.size, old.root); err != nil {
				fail("checkpoint %d (size %d): JSON consistency proof: %v", c.Sequence, old.size, err)
				continue
			}
			fromTiles, err := tlog.ProveTree(cp.size, old.size, hashes)
			if err == nil {
				err = tlog.CheckTree(fromTiles, cp.size, cp.root, old.size, old.root)
			}
			if err != nil {
				fail("checkpoint %d (size %d): not a prefix of the latest tree: %v", c.Sequence, old.size, err)
				continue
			}
			s.ConsistencyChecked++
		}
		if !page.More {
			return
		}
	}
}
