// Device sessions against depot with snapd's own client code (Debian's
// golang-github-snapcore-snapd-dev: snapd's store and asserts packages).
//
// A device with a brand, model and serial, but no session yet, asks depot for a snap with
// snapd's store.SnapAction. snapd's store then does what a registered device does: asks
// depot for a nonce, signs a device-session-request with the device key, trades it (with the
// serial and model assertions) for a session, and sends the refresh request with
// Snap-Device-Authorization. Then:
//
//  1. install: the result names the snap and the expected revision; the device now holds a
//     depot session ("depot-device.…"); Store.Download fetches the file with that session
//     (X-Device-Authorization) and checks its sha3-384.
//  2. a session from another store: depot answers 401 refresh_device_session=1, snapd gets
//     a new session by itself and the request succeeds; the session is step 1's again.
//  3. a device whose session request is signed by a key other than its serial's device key,
//     and 4. one whose request was changed after the device key signed it: depot refuses the
//     session and snapd's SnapAction fails with its own error.
//
// Usage: device-session -store URL -snap NAME -revision N -sha3-384 HEX [-key-bits 4096]
// It prints PASS/FAIL lines and exits 1 on the first failure.
package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io/ioutil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/sha3"

	"github.com/snapcore/snapd/asserts"
	"github.com/snapcore/snapd/asserts/assertstest"
	"github.com/snapcore/snapd/overlord/auth"
	"github.com/snapcore/snapd/snap"
	"github.com/snapcore/snapd/snapdenv"
	"github.com/snapcore/snapd/store"
)

const (
	brandID = "depot-e2e-brand"
	modelID = "depot-e2e-model"
)

// device is what snapd's overlord would keep for one device: its auth.DeviceState (brand,
// model, serial, session), its model and serial assertions and the key that signs its session
// requests. It implements store.DeviceAndAuthContext.
type device struct {
	mu      sync.Mutex
	state   auth.DeviceState
	model   *asserts.Model
	serial  *asserts.Serial
	signKey asserts.PrivateKey
	// tamper: change the request's timestamp after signing, keeping the signature
	tamper bool

	// what snapd's store asked of it
	nonces   []string
	sessions []string
}

var _ store.DeviceAndAuthContext = (*device)(nil)

func (d *device) Device() (*auth.DeviceState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	copied := d.state
	return &copied, nil
}

// UpdateDeviceAuth stores a new session unless the state changed since `seen` was read (the
// optimistic check snapd's own store context makes).
func (d *device) UpdateDeviceAuth(seen *auth.DeviceState, session string) (*auth.DeviceState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == *seen {
		d.state.SessionMacaroon = session
		d.sessions = append(d.sessions, session)
	}
	copied := d.state
	return &copied, nil
}

func (d *device) UpdateUserAuth(user *auth.UserState, discharges []string) (*auth.UserState, error) {
	return user, nil
}

func (d *device) StoreID(fallback string) (string, error) { return fallback, nil }

func (d *device) DeviceSessionRequestParams(nonce string) (*store.DeviceSessionRequestParams, error) {
	d.mu.Lock()
	d.nonces = append(d.nonces, nonce)
	d.mu.Unlock()
	now := time.Now().UTC()
	request, err := asserts.SignWithoutAuthority(asserts.DeviceSessionRequestType, map[string]interface{}{
		"brand-id":  d.serial.BrandID(),
		"model":     d.serial.Model(),
		"serial":    d.serial.Serial(),
		"nonce":     nonce,
		"timestamp": now.Format(time.RFC3339),
	}, nil, d.signKey)
	if err != nil {
		return nil, err
	}
	if d.tamper {
		// The same request a second later, under the first one's signature.
		encoded := asserts.Encode(request)
		signed := "\ntimestamp: " + now.Format(time.RFC3339) + "\n"
		changed := "\ntimestamp: " + now.Add(time.Second).Format(time.RFC3339) + "\n"
		if !strings.Contains(string(encoded), signed) {
			return nil, fmt.Errorf("test error: no %q in the request", signed)
		}
		request, err = asserts.Decode([]byte(strings.Replace(string(encoded), signed, changed, 1)))
		if err != nil {
			return nil, err
		}
	}
	return &store.DeviceSessionRequestParams{
		Request: request.(*asserts.DeviceSessionRequest),
		Serial:  d.serial,
		Model:   d.model,
	}, nil
}

// ProxyStoreParams: no proxy store; the store's base URL is the configured one.
func (d *device) ProxyStoreParams(defaultURL *url.URL) (string, *url.URL, error) {
	return "", defaultURL, nil
}

func (d *device) CloudInfo() (*auth.CloudInfo, error) { return nil, nil }

func (d *device) setSession(session string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.state.SessionMacaroon = session
}

func (d *device) session() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state.SessionMacaroon
}

func (d *device) counts() (nonces, sessions int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.nonces), len(d.sessions)
}

// brand signs models and serials, as a brand (or its serial vault) does.
type brand struct {
	db    *assertstest.SigningDB
	model *asserts.Model
}

func newBrand(bits int) (*brand, error) {
	key, _ := assertstest.GenerateKey(bits)
	db := assertstest.NewSigningDB(brandID, key)
	a, err := db.Sign(asserts.ModelType, map[string]interface{}{
		"series":    "16",
		"brand-id":  brandID,
		"model":     modelID,
		"classic":   "true",
		"timestamp": time.Now().UTC().Format(time.RFC3339),
	}, nil, "")
	if err != nil {
		return nil, fmt.Errorf("cannot sign the model: %v", err)
	}
	return &brand{db: db, model: a.(*asserts.Model)}, nil
}

// newDevice makes a device with a serial for deviceKey's public key; its session requests
// are signed with signKey (deviceKey itself, unless the test wants them refused).
func (b *brand) newDevice(serial string, deviceKey, signKey asserts.PrivateKey) (*device, error) {
	encoded, err := asserts.EncodePublicKey(deviceKey.PublicKey())
	if err != nil {
		return nil, err
	}
	a, err := b.db.Sign(asserts.SerialType, map[string]interface{}{
		"brand-id":            brandID,
		"model":               modelID,
		"serial":              serial,
		"device-key":          string(encoded),
		"device-key-sha3-384": deviceKey.PublicKey().ID(),
		"timestamp":           time.Now().UTC().Format(time.RFC3339),
	}, nil, "")
	if err != nil {
		return nil, fmt.Errorf("cannot sign the serial: %v", err)
	}
	return &device{
		state: auth.DeviceState{
			Brand:  brandID,
			Model:  modelID,
			Serial: serial,
			KeyID:  deviceKey.PublicKey().ID(),
		},
		model:   b.model,
		serial:  a.(*asserts.Serial),
		signKey: signKey,
	}, nil
}

type test struct {
	storeURL *url.URL
	snapName string
	revision int
	sha3     string
	workDir  string
	failed   bool
}

func (t *test) pass(format string, args ...interface{}) {
	fmt.Printf("PASS: "+format+"\n", args...)
}

func (t *test) fail(format string, args ...interface{}) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	t.failed = true
}

func (t *test) store(d *device) *store.Store {
	cfg := store.DefaultConfig()
	cfg.StoreBaseURL = t.storeURL
	cfg.AssertionsBaseURL = nil
	cfg.Series = "16"
	return store.New(cfg, d)
}

func (t *test) install(s *store.Store) ([]store.SnapActionResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	results, _, err := s.SnapAction(ctx, nil, []*store.SnapAction{{
		Action:       "install",
		InstanceName: t.snapName,
		Channel:      "stable",
	}}, nil, nil, nil)
	return results, err
}

func (t *test) checkResult(step string, results []store.SnapActionResult) bool {
	if len(results) != 1 {
		t.fail("%s: %d results, want 1", step, len(results))
		return false
	}
	info := results[0].Info
	if info.SnapName() != t.snapName || info.Revision.N != t.revision {
		t.fail("%s: got %s revision %s, want %s revision %d", step, info.SnapName(), info.Revision, t.snapName, t.revision)
		return false
	}
	t.pass("%s: SnapAction install %s (stable) -> revision %s, snap-id %s", step, info.SnapName(), info.Revision, info.SnapID)
	return true
}

func (t *test) run(bits int) {
	started := time.Now()
	b, err := newBrand(2048)
	if err != nil {
		t.fail("%v", err)
		return
	}
	deviceKey, _ := assertstest.GenerateKey(bits)
	otherKey, _ := assertstest.GenerateKey(2048)
	fmt.Printf("keys: brand 2048-bit, device %d-bit, wrong key 2048-bit (%.1fs)\n", bits, time.Since(started).Seconds())

	// 1. A registered device without a session: snapd's store gets one before the request.
	dev, err := b.newDevice("depot-e2e-serial-1", deviceKey, deviceKey)
	if err != nil {
		t.fail("%v", err)
		return
	}
	s := t.store(dev)
	results, err := t.install(s)
	if err != nil {
		t.fail("step 1: SnapAction: %v", err)
		return
	}
	if !t.checkResult("step 1", results) {
		return
	}
	first := dev.session()
	nonces, sessions := dev.counts()
	if !strings.HasPrefix(first, "depot-device.") || nonces != 1 || sessions != 1 {
		t.fail("step 1: session %q after %d nonce(s) and %d session(s); want one depot-device. session", first, nonces, sessions)
		return
	}
	t.pass("step 1: snapd got nonce %q and session %q", dev.nonces[0], first)

	// 1b. The download carries the session as X-Device-Authorization.
	target := filepath.Join(t.workDir, t.snapName+".snap")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	err = s.Download(ctx, t.snapName, target, &results[0].Info.DownloadInfo, nil, nil, nil)
	cancel()
	if err != nil {
		t.fail("step 1: Store.Download: %v", err)
		return
	}
	data, err := ioutil.ReadFile(target)
	if err != nil {
		t.fail("step 1: %v", err)
		return
	}
	digest := sha3.Sum384(data)
	if got := hex.EncodeToString(digest[:]); got != t.sha3 {
		t.fail("step 1: downloaded sha3-384 %s, want %s", got, t.sha3)
		return
	}
	if _, sessions := dev.counts(); sessions != 1 || dev.session() != first {
		t.fail("step 1: the download changed the session")
		return
	}
	t.pass("step 1: Store.Download fetched %d bytes with the session, sha3-384 %s", len(data), t.sha3)

	// 2. A session depot did not issue (the device came from another store): 401, snapd
	// refreshes the session itself and sends the request again.
	const foreign = "MDAxY2xvY2F0aW9u-foreign"
	dev.setSession(foreign)
	results, err = t.install(s)
	if err != nil {
		t.fail("step 2: SnapAction with a foreign session: %v", err)
		return
	}
	if !t.checkResult("step 2", results) {
		return
	}
	nonces, sessions = dev.counts()
	if got := dev.session(); got != first || nonces != 2 || sessions != 2 {
		t.fail("step 2: session %q after %d nonce(s) and %d session(s); want step 1's after a second session", got, nonces, sessions)
		return
	}
	t.pass("step 2: foreign session replaced by snapd after depot's 401; the session is step 1's again")

	// 3. A device whose session request is not signed by its serial's device key.
	wrong, err := b.newDevice("depot-e2e-serial-2", deviceKey, otherKey)
	if err != nil {
		t.fail("%v", err)
		return
	}
	t.refused("step 3", wrong, "wrong signing key refused")

	// 4. A request signed by the device key, changed after signing: depot checks the signature
	// itself, not only which key it names.
	tampered, err := b.newDevice("depot-e2e-serial-3", deviceKey, deviceKey)
	if err != nil {
		t.fail("%v", err)
		return
	}
	tampered.tamper = true
	t.refused("step 4", tampered, "request changed after signing refused")
}

// refused checks that SnapAction fails for d because depot refuses its session request.
func (t *test) refused(step string, d *device, what string) {
	results, err := t.install(t.store(d))
	switch {
	case err == nil:
		t.fail("%s: SnapAction succeeded (%d results); want the device session refused", step, len(results))
	case !strings.Contains(err.Error(), "cannot get device session from store"):
		t.fail("%s: SnapAction failed, but not at the device session: %v", step, err)
	case !strings.Contains(err.Error(), "invalid-device-session-request"):
		t.fail("%s: not depot's invalid-device-session-request: %v", step, err)
	case d.session() != "":
		t.fail("%s: the device holds a session: %q", step, d.session())
	default:
		t.pass("%s: %s; snapd: %v", step, what, err)
	}
}

func main() {
	storeFlag := flag.String("store", "", "depot's base URL")
	snapName := flag.String("snap", "", "a snap released to stable")
	revision := flag.Int("revision", 1, "its revision on stable")
	sha := flag.String("sha3-384", "", "its sha3-384, hex")
	bits := flag.Int("key-bits", 4096, "device key size (snapd uses 4096)")
	flag.Parse()
	if *storeFlag == "" || *snapName == "" || *sha == "" {
		flag.Usage()
		os.Exit(2)
	}
	u, err := url.Parse(*storeFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	work, err := ioutil.TempDir("", "device-session")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer os.RemoveAll(work)
	snapdenv.SetUserAgentFromVersion("2.57.6+depot-e2e", nil)
	// snapd proper sets this to interfaces/builtin's check of plugs and slots, which the store
	// client calls on every snap.yaml it reads; this test's snap has none, and importing
	// interfaces/builtin would pull in most of snapd.
	snap.SanitizePlugsSlots = func(*snap.Info) {}

	t := &test{storeURL: u, snapName: *snapName, revision: *revision, sha3: *sha, workDir: work}
	t.run(*bits)
	if t.failed {
		fmt.Println("FAIL: device sessions with snapd's store client")
		os.RemoveAll(work)
		os.Exit(1)
	}
	fmt.Println("PASS: device sessions with snapd's store client")
}
