package masking

// keyMode says where in a normalized key a name must appear.
type keyMode uint8

const (
	anywhere keyMode = iota // the key contains the name
	atEnd                   // the key ends with the name
	exactly                 // the key is the name
)

type keyName struct {
	name string
	mode keyMode
	// toEOL: an unquoted "Key: value" with this key masks to the end of the
	// line, because the value itself holds separators (Cookie: a=1; b=2).
	toEOL bool
}

// builtinKeys are the sensitive key names; see the package doc for why each
// word sits in its mode.
var builtinKeys = []keyName{
	{name: "password"},
	{name: "passwd"},
	{name: "passphrase"},
	{name: "passwort"},
	{name: "secret"},
	{name: "credential"},
	{name: "privatekey"},
	{name: "apikey"},
	{name: "accesskey"},
	{name: "authorization"},
	{name: "cookie", toEOL: true},
	{name: "connectionstring"},
	{name: "connstr"},
	{name: "token", mode: atEnd},
	{name: "session", mode: atEnd},
	{name: "sessionid", mode: atEnd},
	{name: "sessid", mode: atEnd},
	{name: "pwd", mode: atEnd},
	{name: "dsn", mode: atEnd},
	{name: "signature", mode: atEnd},
	// "pass" alone would end "bypass" and "compass": the compounds that
	// name a password end the key instead.
	{name: "dbpass", mode: atEnd},
	{name: "sqlpass", mode: atEnd},
	{name: "userpass", mode: atEnd},
	{name: "adminpass", mode: atEnd},
	{name: "rootpass", mode: atEnd},
	{name: "smtppass", mode: atEnd},
	{name: "mailpass", mode: atEnd},
	{name: "ftppass", mode: atEnd},
	{name: "redispass", mode: atEnd},
	{name: "ldappass", mode: atEnd},
	{name: "pass", mode: exactly},
	{name: "pin", mode: exactly},
	{name: "pincode", mode: exactly},
	{name: "pw", mode: exactly},
	{name: "auth", mode: exactly},
	{name: "sig", mode: exactly},
	{name: "bearer", mode: exactly},
}

// keySet answers "is this key sensitive" in one pass over the key's bytes,
// without allocating: an Aho-Corasick automaton, with normalization folded
// into its byte-indexed rows, finds every name in every mode at once. Keys
// are checked for every attribute of every record, so this is on the hot
// path: one table load per key byte.
type keySet struct {
	names []keyName
	rows  [][256]uint16 // rows[state][byte] is the next state
	depth []int32
	// Per state: the name (index into names, or -1) a match there proves.
	// anyHit and endHit follow suffix links: any anywhere- or at-end name
	// that ends in this state counts. own is the name spelled by the path
	// to the state, for exact names.
	anyHit, endHit, own []int32
	allow               map[string]bool
}

const keyAlphabet = 36

// symbol maps a key byte to the automaton's alphabet, or -1 for bytes that
// normalization drops.
var symbol = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = int8(c - 'a')
		t[c-'a'+'A'] = int8(c - 'a')
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(26 + c - '0')
	}
	return t
}()

func newKeySet(extra, allow []string) *keySet {
	ks := &keySet{names: append([]keyName(nil), builtinKeys...)}
	for _, e := range extra {
		if n := normalizeKey(nil, e); len(n) > 0 {
			ks.names = append(ks.names, keyName{name: string(n)})
		}
	}
	if len(allow) > 0 {
		ks.allow = map[string]bool{}
		for _, a := range allow {
			ks.allow[string(normalizeKey(nil, a))] = true
		}
	}
	ks.build()
	return ks
}

func (ks *keySet) build() {
	// The trie over the 36-symbol alphabet.
	var next [][keyAlphabet]int32
	newState := func(depth int32) int32 {
		var row [keyAlphabet]int32
		for i := range row {
			row[i] = -1
		}
		next = append(next, row)
		ks.depth = append(ks.depth, depth)
		ks.own = append(ks.own, -1)
		return int32(len(next) - 1)
	}
	newState(0)
	for i, k := range ks.names {
		s := int32(0)
		for j := 0; j < len(k.name); j++ {
			c := symbol[k.name[j]]
			if next[s][c] < 0 {
				next[s][c] = newState(ks.depth[s] + 1)
			}
			s = next[s][c]
		}
		// A name given twice keeps its broadest mode.
		if o := ks.own[s]; o < 0 || ks.names[i].mode < ks.names[o].mode {
			ks.own[s] = int32(i)
		}
	}
	if len(next) > 1<<16 {
		panic("masking: too many sensitive keys")
	}

	// Failure links, breadth first, folded into the goto function.
	n := len(next)
	fail := make([]int32, n)
	ks.anyHit = make([]int32, n)
	ks.endHit = make([]int32, n)
	hit := func(s int32, mode keyMode) int32 {
		if o := ks.own[s]; o >= 0 && ks.names[o].mode == mode {
			return o
		}
		return -1
	}
	ks.anyHit[0], ks.endHit[0] = -1, -1
	var queue []int32
	for c := range keyAlphabet {
		if t := next[0][c]; t >= 0 {
			queue = append(queue, t)
		} else {
			next[0][c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		ks.anyHit[s], ks.endHit[s] = hit(s, anywhere), hit(s, atEnd)
		if ks.anyHit[s] < 0 {
			ks.anyHit[s] = ks.anyHit[fail[s]]
		}
		if ks.endHit[s] < 0 {
			ks.endHit[s] = ks.endHit[fail[s]]
		}
		for c := range keyAlphabet {
			if t := next[s][c]; t >= 0 {
				fail[t] = next[fail[s]][c]
				queue = append(queue, t)
			} else {
				next[s][c] = next[fail[s]][c]
			}
		}
	}

	// Byte-indexed rows: dropped bytes stay put, upper case folds, and a
	// state that proved an anywhere-name keeps it to the end of the key.
	ks.rows = make([][256]uint16, n)
	for s := range ks.rows {
		for b := range 256 {
			switch c := symbol[b]; {
			case ks.anyHit[s] >= 0 || c < 0:
				ks.rows[s][b] = uint16(s)
			default:
				ks.rows[s][b] = uint16(next[s][c])
			}
		}
	}
}

// lookup reports whether key is sensitive, and the name that matched.
func (ks *keySet) lookup(key string) (keyName, bool) {
	s := uint16(0)
	for i := 0; i < len(key); i++ {
		s = ks.rows[s][key[i]]
	}
	if ks.allow != nil {
		var buf [maxKeyLen]byte
		if ks.allow[string(normalizeKey(buf[:0], key))] {
			return keyName{}, false
		}
	}
	if h := ks.anyHit[s]; h >= 0 {
		return ks.names[h], true
	}
	if h := ks.endHit[s]; h >= 0 {
		return ks.names[h], true
	}
	if o := ks.own[s]; o >= 0 && ks.names[o].mode == exactly && ks.depth[s] == symbols(key) {
		return ks.names[o], true
	}
	return keyName{}, false
}

// symbols counts the bytes of key that normalization keeps.
func symbols(key string) int32 {
	n := int32(0)
	for i := 0; i < len(key); i++ {
		if symbol[key[i]] >= 0 {
			n++
		}
	}
	return n
}

// maxKeyLen bounds how far back the pair rule looks for a key.
const maxKeyLen = 64

// normalizeKey appends key to dst lower-cased, keeping only ASCII letters
// and digits, so that separators and case never decide a match.
func normalizeKey(dst []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			dst = append(dst, c)
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		}
	}
	return dst
}
