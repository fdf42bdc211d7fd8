package binance

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// window is one fixed rate-limit window (a minute or a second of the
// emulator clock).
type window struct {
	idx    int64
	used   int
	warned bool // a 429 was sent in this window (the next excess bans, on /api)
}

type ipBan struct {
	until time.Time
	count int
}

type rateLimiter struct {
	win  map[string]*window
	bans map[string]*ipBan
}

func newRateLimiter() *rateLimiter {
	return &rateLimiter{win: map[string]*window{}, bans: map[string]*ipBan{}}
}

// add charges weight to the window named key of length size at now and
// returns the window.
func (rl *rateLimiter) add(key string, size time.Duration, now time.Time, weight int) *window {
	idx := now.UnixNano() / int64(size)
	w := rl.win[key]
	if w == nil || w.idx != idx {
		w = &window{idx: idx}
		rl.win[key] = w
	}
	w.used += weight
	return w
}

// retryAfter is the number of whole seconds until the window ends (at
// least 1).
func retryAfter(size time.Duration, now time.Time) int {
	end := (now.UnixNano()/int64(size) + 1) * int64(size)
	s := int((time.Duration(end-now.UnixNano()) + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

func (v *Venue) familyLimit(f family) (int, string) {
	switch f {
	case famFAPI:
		return v.st.limits.FAPI, "fapi"
	case famDAPI:
		return v.st.limits.DAPI, "dapi"
	}
	return v.st.limits.API, "api"
}

// chargeIP applies the IP weight of the request: the shared per-minute
// budget of /api, /fapi or /dapi (with 418 bans on /api for clients that
// ignore a 429), or the endpoint's own budget on IP-limited /sapi
// endpoints. It answers and returns false when the limit is exceeded.
func (v *Venue) chargeIP(c *call, weight int) bool {
	rt := c.rt
	now := c.now
	if rt.fam == famSAPI {
		if rt.uid {
			return true
		}
		w := v.rl.add("sapi-ip|"+rt.method+rt.path+"|"+c.ip, time.Minute, now, weight)
		c.w.Header().Set("X-SAPI-USED-IP-WEIGHT-1M", strconv.Itoa(w.used))
		if w.used > v.st.limits.SAPIIP {
			v.tooMany(c, v.st.limits.SAPIIP, "1 MINUTE", retryAfter(time.Minute, now))
			return false
		}
		return true
	}
	limit, name := v.familyLimit(rt.fam)
	if rt.fam == famAPI {
		if b := v.rl.bans[c.ip]; b != nil && now.Before(b.until) {
			v.banned(c, b)
			return false
		}
	}
	w := v.rl.add(name+"|"+c.ip, time.Minute, now, weight)
	used := strconv.Itoa(w.used)
	c.w.Header().Set("X-MBX-USED-WEIGHT-1M", used)
	if rt.fam == famAPI {
		c.w.Header().Set("X-MBX-USED-WEIGHT", used)
	}
	if w.used <= limit {
		return true
	}
	if rt.fam == famAPI && w.warned {
		b := v.rl.bans[c.ip]
		if b == nil {
			b = &ipBan{}
			v.rl.bans[c.ip] = b
		}
		b.count++
		d := v.st.limits.Ban
		for i := 1; i < b.count && d < v.st.limits.MaxBan; i++ {
			d *= 2
		}
		if d > v.st.limits.MaxBan {
			d = v.st.limits.MaxBan
		}
		b.until = now.Add(d)
		v.banned(c, b)
		return false
	}
	w.warned = true
	v.tooMany(c, limit, "1 MINUTE", retryAfter(time.Minute, now))
	return false
}

// chargeUID applies the per-account budget of a UID-limited /sapi
// endpoint (per minute, or per second for withdraw history).
func (v *Venue) chargeUID(c *call, weight int) bool {
	rt := c.rt
	size, limit, header, interval := time.Minute, v.st.limits.SAPIUID, "X-SAPI-USED-UID-WEIGHT-1M", "1 MINUTE"
	if rt.perSecond {
		size, limit, header, interval = time.Second, v.st.limits.SAPIUID1S, "X-SAPI-USED-UID-WEIGHT-1S", "1 SECOND"
	}
	w := v.rl.add(fmt.Sprintf("sapi-uid|%s%s|%d", rt.method, rt.path, c.acct.UID), size, c.now, weight)
	c.w.Header().Set(header, strconv.Itoa(w.used))
	if w.used > limit {
		v.tooMany(c, limit, interval, retryAfter(size, c.now))
		return false
	}
	return true
}

func (v *Venue) tooMany(c *call, limit int, interval string, retry int) {
	c.w.Header().Set("Retry-After", strconv.Itoa(retry))
	c.fail(http.StatusTooManyRequests, -1003, fmt.Sprintf("Too much request weight used; current limit is %d request weight per %s. Please use WebSocket Streams for live updates to avoid polling the API.", limit, interval))
}

func (v *Venue) banned(c *call, b *ipBan) {
	retry := int((b.until.Sub(c.now) + time.Second - 1) / time.Second)
	if retry < 1 {
		retry = 1
	}
	c.w.Header().Set("Retry-After", strconv.Itoa(retry))
	c.fail(http.StatusTeapot, -1003, fmt.Sprintf("Way too much request weight used; IP banned until %d. Please use WebSocket Streams for live updates to avoid bans.", b.until.UnixMilli()))
}
