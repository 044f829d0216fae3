/**
 * Arguments of the board tests (`deno test -A hw-tests/board/*_hwtest.ts -- --board rpi4
 * [--fallback x265|h264-hw]`) and the check that they run on the board they name.
 */
import {
  BOARD_IDS,
  type BoardId,
  type BoardInfo,
  detectBoard,
  ENCODE_FALLBACKS,
  type EncodeFallback,
} from "../../runtime/board/mod.ts";

export interface BoardTestArgs {
  readonly board: BoardId;
  readonly fallback: EncodeFallback;
}

const USAGE = "run on the board: .tools/bin/deno test -A hw-tests/board/*_hwtest.ts -- --board " +
  `<${BOARD_IDS.filter((b) => b !== "generic").join("|")}> [--fallback ${
    ENCODE_FALLBACKS.join("|")
  }]`;

export function parseBoardArgs(args: readonly string[]): BoardTestArgs {
  const value = (name: string): string | undefined => {
    const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i < 0) return undefined;
    const arg = args[i] ?? "";
    return arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[i + 1];
  };
  const board = value("board");
  if (board === undefined) throw new Error(`No --board given; ${USAGE}`);
  if (!BOARD_IDS.includes(board as BoardId)) {
    throw new Error(`--board ${board} is not a board id; ${USAGE}`);
  }
  const fallback = value("fallback") ?? "x265";
  if (!ENCODE_FALLBACKS.includes(fallback as EncodeFallback)) {
    throw new Error(`--fallback ${fallback} is not allowed; ${USAGE}`);
  }
  return { board: board as BoardId, fallback: fallback as EncodeFallback };
}

/** The detected board, after checking that it is the one `--board` names. */
export async function requireBoard(
  args: readonly string[] = Deno.args,
): Promise<{ info: BoardInfo; args: BoardTestArgs }> {
  const parsed = parseBoardArgs(args);
  const info = await detectBoard();
  if (info.id !== parsed.board) {
    throw new Error(
      `This is not a ${parsed.board} board: detected '${info.id}' (${info.model}, from ` +
        `${info.source ?? "no identity file"}). These tests need the real board; ${USAGE}`,
    );
  }
  return { info, args: parsed };
}
