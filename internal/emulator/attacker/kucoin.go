package attacker

import (
	"context"
	"errors"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

type kucoinBot struct{}

func newKucoin(*Attacker, emu.Credential) (*kucoinBot, error) {
	return nil, errors.New("the KuCoin attacker is not built yet")
}

func (*kucoinBot) discover(context.Context) {}
func (*kucoinBot) act(context.Context, int) {}
