import { beforeEach, describe, expect, it } from "vitest";
import { FakeClock, FakeSocket } from "./fakes.test-utils";
import { backoffDelay, ReconnectingSocket, type DisconnectInfo } from "./socket";

describe("backoffDelay", () => {
  it("doubles from 500 ms up to a 10 s ceiling, jittered within the upper half", () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, () => 1))).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(10, () => 0)).toBe(5000);
    for (let i = 0; i < 50; i++) expect(backoffDelay(20)).toBeLessThanOrEqual(10000);
  });
});

describe("ReconnectingSocket", () => {
  let clock: FakeClock;
  let disconnects: DisconnectInfo[];
  let messages: string[];
  let after: number;

  function make() {
    return new ReconnectingSocket(
      () => `ws://x/ws/runs/1/?after=${after}`,
      { onMessage: (text) => messages.push(text), onDisconnect: (info) => disconnects.push(info) },
      { createSocket: (url) => new FakeSocket(url), random: () => 1, setTimer: clock.setTimer, clearTimer: clock.clearTimer },
    );
  }

  beforeEach(() => {
    FakeSocket.all = [];
    clock = new FakeClock();
    disconnects = [];
    messages = [];
    after = 0;
  });

  it("reconnects with growing delays and the caller's latest position", () => {
    const socket = make();
    socket.start();
    expect(FakeSocket.latest().url).toBe("ws://x/ws/runs/1/?after=0");
    FakeSocket.latest().serverOpen();
    FakeSocket.latest().serverSend({ type: "hello" });
    expect(messages).toHaveLength(1);
    after = 7;
    FakeSocket.latest().serverClose(1006);
    expect(disconnects).toEqual([{ code: 1006, fatalMessage: null, retryInMs: 500 }]);
    clock.advance(499);
    expect(FakeSocket.all).toHaveLength(1);
    clock.advance(1);
    expect(FakeSocket.all).toHaveLength(2);
    expect(FakeSocket.latest().url).toBe("ws://x/ws/runs/1/?after=7");
    FakeSocket.latest().serverClose(1006);
    expect(disconnects[1].retryInMs).toBe(1000);
    clock.advance(1000);
    socket.resetBackoff();
    FakeSocket.latest().serverClose(1011);
    expect(disconnects[2].retryInMs).toBe(500);
  });

  it.each([4401, 4403, 4404])("does not reconnect after close code %i", (code) => {
    const socket = make();
    socket.start();
    FakeSocket.latest().serverOpen();
    FakeSocket.latest().serverClose(code);
    expect(disconnects[0].fatalMessage).toBeTruthy();
    expect(disconnects[0].retryInMs).toBeNull();
    clock.advance(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(socket.send({ type: "resume", after: 1 })).toBe(false);
  });

  it("sends JSON only while open and stops for good", () => {
    const socket = make();
    socket.start();
    expect(socket.send({ a: 1 })).toBe(false);
    FakeSocket.latest().serverOpen();
    expect(socket.send({ type: "resume", after: 3 })).toBe(true);
    expect(FakeSocket.latest().sent).toEqual([{ type: "resume", after: 3 }]);
    socket.stop();
    expect(FakeSocket.latest().closed).toEqual({ code: 1000 });
    clock.advance(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("reconnectNow skips the wait", () => {
    const socket = make();
    socket.start();
    FakeSocket.latest().serverClose(1006);
    socket.reconnectNow();
    expect(FakeSocket.all).toHaveLength(2);
    expect(clock.pending()).toEqual([]);
  });
});
