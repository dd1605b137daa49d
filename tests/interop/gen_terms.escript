#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noshell
%%
%% gen_terms.escript OUT COUNT SEED
%%
%% Writes COUNT random terms, made from SEED, to OUT: each one as a 4-byte
%% big-endian length and then term_to_binary/1's bytes. Every type Grove
%% carries appears: small, 32-bit, 64-bit and big integers (up to
%% LARGE_BIG), floats (any finite bit pattern, -0.0, denormals), Latin-1 and
%% Unicode atoms (up to 255 characters, both UTF-8 atom tags), binaries,
%% byte lists (STRING_EXT, and past 65,535 LIST_EXT), lists proper and
%% improper, small and large tuples, maps of up to 32 keys, pids and
%% references on several nodes (made from crafted NEW_PID_EXT and
%% NEWER_REFERENCE_EXT bytes). Depth and size are bounded. The same SEED
%% always gives the same file.
-mode(compile).

main([Out, CountS, SeedS]) ->
    Count = list_to_integer(CountS),
    Seed = list_to_integer(SeedS),
    _ = rand:seed(exsss, Seed),
    Blobs = [begin
                 B = term_to_binary(term(0)),
                 [<<(byte_size(B)):32>>, B]
             end || _ <- lists:seq(1, Count)],
    ok = file:write_file(Out, Blobs),
    io:format("gen_terms: ~b terms, seed ~b, ~b bytes in ~s~n",
              [Count, Seed, iolist_size(Blobs), Out]);
main(_) ->
    io:format(standard_error, "usage: gen_terms.escript OUT COUNT SEED~n", []),
    halt(64).

-define(MAX_DEPTH, 4).

r(N) -> rand:uniform(N).            % 1..N
pick(L) -> lists:nth(r(length(L)), L).

term(D) when D >= ?MAX_DEPTH -> leaf();
term(D) ->
    case r(10) of
        N when N =< 6 -> leaf();
        7 -> tuple(D);
        8 -> list(D);
        9 -> map(D);
        10 -> F = pick([fun() -> list(D) end, fun() -> tuple(D) end, fun() -> map(D) end,
                        fun leaf/0]),
              F()
    end.

leaf() ->
    case r(14) of
        1 -> r(256) - 1;
        2 -> int32();
        3 -> int64();
        4 -> big();
        5 -> float();
        6 -> float();
        7 -> latin1_atom();
        8 -> unicode_atom();
        9 -> binary();
        10 -> string();
        11 -> [];
        12 -> pid();
        13 -> ref();
        14 -> pick([true, false, ok, error, undefined, '', 'EXIT', 'Quoted atom', 'and'])
    end.

int32() -> r(1 bsl 32) - (1 bsl 31) - 1.
int64() -> r(1 bsl 64) - (1 bsl 63) - 1.

big() ->
    Bytes = case r(20) of
                1 -> 250 + r(60);           % around the SMALL_BIG/LARGE_BIG line
                _ -> r(40)
            end,
    Mag = r(1 bsl (8 * Bytes)) - 1,
    Edge = pick([0, 0, 0, 1 bsl 31, 1 bsl 63, 1 bsl 64, 1 bsl 32]),
    V = case r(3) of
            1 -> Edge + r(3) - 2;
            _ -> Mag
        end,
    pick([V, -V]).

float() ->
    case r(3) of
        1 ->
            pick([0.0, neg_zero(), 1.0, -1.0, 0.1, 1.5, 1.0e10, 1.0e-5, 1.0e21, 1.0e23, 5.0e-324,
                  2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
                  123456.789, 1.0e15, 1.0e16, 9007199254740993.0]);
        2 ->
            (rand:uniform() - 0.5) * math:pow(10, r(40) - 20);
        3 ->
            finite_bits()
    end.

neg_zero() -> <<F/float>> = <<16#8000000000000000:64>>, F.

finite_bits() ->
    Bits = r(1 bsl 64) - 1,
    case (Bits bsr 52) band 16#7FF of
        16#7FF -> finite_bits();
        _ -> <<F/float>> = <<Bits:64>>, F
    end.

latin1_atom() ->
    Len = case r(30) of 1 -> 255; 2 -> 0; _ -> r(12) end,
    list_to_atom([latin1_char() || _ <- lists:seq(1, Len)]).

latin1_char() ->
    case r(10) of
        N when N =< 6 -> $a + r(26) - 1;
        7 -> pick("ABCXYZ0123456789_@. '\"\\");
        8 -> 159 + r(97);                       % 160..255
        9 -> 127 + r(33);                       % 128..159 (DEL and C1)
        10 -> r(31)                             % control characters
    end.

unicode_atom() ->
    Len = case r(30) of 1 -> 255; 2 -> 128; _ -> r(10) end,
    Chars = [unicode_char() || _ <- lists:seq(1, Len)],
    case lists:any(fun(C) -> C > 255 end, Chars) of
        true -> list_to_atom(Chars);
        false -> list_to_atom([16#263A | Chars])
    end.

unicode_char() ->
    case r(6) of
        1 -> $a + r(26) - 1;
        2 -> 255 + r(16#7FF - 255);                      % two bytes
        3 -> 16#7FF + r(16#D7FF - 16#7FF);              % three bytes, below surrogates
        4 -> 16#DFFF + r(16#FFFD - 16#DFFF);            % three bytes, above surrogates
        5 -> 16#FFFF + r(16#10FFFF - 16#FFFF);          % four bytes
        6 -> 159 + r(97)
    end.

binary() ->
    Len = case r(20) of 1 -> 200 + r(2000); 2 -> 0; _ -> r(30) end,
    case r(2) of
        1 -> list_to_binary([r(256) - 1 || _ <- lists:seq(1, Len)]);
        2 -> list_to_binary([31 + r(95) || _ <- lists:seq(1, Len)])
    end.

string() ->
    Len = case r(4000) of
              1 -> 65534 + r(4);                 % STRING_EXT's limit, and just past
              _ -> r(30)
          end,
    case r(3) of
        1 -> [r(256) - 1 || _ <- lists:seq(1, Len)];
        _ -> [31 + r(95) || _ <- lists:seq(1, Len)]
    end.

node_names() ->
    ["n@h", "node@host", "a@127.0.0.1", "grove@example.org", "x@y",
     [$n, 246, $d, $e, $@, $h],                               % Latin-1
     [16#443, 16#437, 16#435, 16#43B, $@, $h],                % Cyrillic
     lists:duplicate(200, $z) ++ "@h"].

node_atom_bytes() ->
    B = unicode:characters_to_binary(pick(node_names())),
    case r(3) of
        1 when byte_size(B) < 256 -> <<119, (byte_size(B)), B/binary>>;
        _ -> <<118, (byte_size(B)):16, B/binary>>
    end.

word() ->
    case r(3) of
        1 -> r(1 bsl 32) - 1;
        2 -> r(1000) - 1;
        3 -> pick([0, 16#FFFFFFFF, 16#7FFFFFFF, 16#80000000])
    end.

pid() ->
    binary_to_term(<<131, 88, (node_atom_bytes())/binary, (word()):32, (word()):32,
                     (word()):32>>).

ref() ->
    Len = pick([1, 2, 3, 3, 3, 4, 5]),
    binary_to_term(<<131, 90, Len:16, (node_atom_bytes())/binary, (word()):32,
                     (<< <<(word()):32>> || _ <- lists:seq(1, Len) >>)/binary>>).

%% Large containers hold shallow children, so no term grows too big.
tuple(D) ->
    case r(50) of
        1 -> list_to_tuple([term(max(D + 1, ?MAX_DEPTH - 1)) || _ <- lists:seq(1, 250 + r(20))]);
        _ -> list_to_tuple([term(D + 1) || _ <- lists:seq(1, r(7) - 1)])
    end.

list(D) ->
    N = r(7) - 1,
    Elems = [term(D + 1) || _ <- lists:seq(1, N)],
    case r(6) of
        1 when N > 0 -> Elems ++ leaf_not_list();      % improper
        2 when N > 0 -> Elems ++ string();             % spliced onto a byte list
        _ -> Elems
    end.

leaf_not_list() ->
    case leaf() of
        L when is_list(L) -> leaf_not_list();
        X -> X
    end.

map(D) ->
    {N, VD} = case r(10) of
                  1 -> {20 + r(12), max(D + 1, ?MAX_DEPTH - 1)};                % never over 32 keys
                  _ -> {r(6) - 1, D + 1}
              end,
    Keys = [case r(3) of 1 -> term(D + 2); _ -> leaf() end || _ <- lists:seq(1, N)],
    maps:from_list([{K, term(VD)} || K <- Keys]).
