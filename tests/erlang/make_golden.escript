#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noshell
%%
%% make_golden.escript - writes Grove's golden term vectors with a real
%% Erlang (term_to_binary/1 of Erlang/OTP 25, Debian bookworm's erlang-nox).
%%
%%   escript tests/erlang/make_golden.escript [OUTDIR]
%%
%% OUTDIR defaults to tests/data/golden next to this script. The output is
%% deterministic: running the script again gives the same files, so the
%% committed vectors can be checked against a fresh run (ctest does).
%%
%% What it writes (tests/data/golden/README.md says the same):
%%   NAME.etf          canonical bytes: what term_to_binary/1 gives
%%   NAME.txt          the term in Grove's text syntax, UTF-8, no newline
%%   NAME.input.etf    (some cases) bytes Grove must accept and turn into
%%                     NAME.etf: non-canonical encodings, and maps over 32
%%                     keys, whose Erlang order (HAMT) Grove does not keep
%%   NAME.input.txt    (syntax_* cases) other spellings of the term in
%%                     Erlang's syntax ($c, base#digits, escapes, comments,
%%                     ...) that must parse to NAME.etf; the bytes are what
%%                     Erlang's own scanner, parser and evaluator make of it
%%   bad/NAME.etf      bytes Grove must reject with GROVE_EDECODE
%%   bad_text/NAME.txt text grove_term_parse must reject
%%
%% The script checks itself as it goes: each vector reads back in Erlang
%% to the same term, each NAME.txt agrees with Erlang's own ~p printer
%% where Erlang can print the term, each NAME.input.etf really differs from
%% NAME.etf, and each bad input is accepted or refused by binary_to_term/1
%% as the case says. Any failed check stops the script with a non-zero exit.
-mode(compile).

main(Args) ->
    Out = case Args of
              [Dir] -> Dir;
              [] -> filename:join([filename:dirname(script_dir()), "data", "golden"]);
              _ -> usage()
          end,
    try
        run(Out)
    catch
        Class:Reason:Stack ->
            io:format(standard_error, "make_golden: ~p:~p~n~p~n", [Class, Reason, Stack]),
            halt(1)
    end.

usage() ->
    io:format(standard_error, "usage: make_golden.escript [OUTDIR]~n", []),
    halt(64).

script_dir() ->
    filename:dirname(filename:absname(escript:script_name())).

run(Out) ->
    ok = filelib:ensure_dir(filename:join([Out, "bad", "x"])),
    ok = filelib:ensure_dir(filename:join([Out, "bad_text", "x"])),
    clean(Out),
    Golden = golden_cases(),
    check_unique([N || {N, _} <- Golden] ++ [N || {N, _} <- large_map_cases()]
                 ++ [N || {N, _} <- canon_cases()]),
    lists:foreach(fun({Name, T}) -> write_golden(Out, Name, T) end, Golden),
    lists:foreach(fun({Name, M}) -> write_large_map(Out, Name, M) end, large_map_cases()),
    lists:foreach(fun({Name, B}) -> write_canon(Out, Name, B) end, canon_cases()),
    Syntax = syntax_cases(),
    check_unique([N || {N, _} <- Golden] ++ [N || {N, _} <- Syntax]),
    lists:foreach(fun({Name, Txt}) -> write_syntax(Out, Name, Txt) end, Syntax),
    Bad = bad_cases(),
    check_unique([N || {N, _, _} <- Bad]),
    lists:foreach(fun({Name, B, Erl}) -> write_bad(Out, Name, B, Erl) end, Bad),
    BadText = bad_text_cases(),
    check_unique([N || {N, _} <- BadText]),
    lists:foreach(fun({Name, Txt}) -> write_file(Out, ["bad_text/", Name, ".txt"], Txt) end,
                  BadText),
    io:format("make_golden: ~b golden, ~b large maps, ~b canonicalizing, ~b syntax, ~b bad, "
              "~b bad text cases in ~s~n",
              [length(Golden), length(large_map_cases()), length(canon_cases()), length(Syntax),
               length(Bad), length(BadText), Out]).

clean(Out) ->
    Old = filelib:wildcard(filename:join(Out, "*.etf"))
        ++ filelib:wildcard(filename:join(Out, "*.txt"))
        ++ filelib:wildcard(filename:join([Out, "bad", "*.etf"]))
        ++ filelib:wildcard(filename:join([Out, "bad_text", "*.txt"])),
    lists:foreach(fun(F) -> ok = file:delete(F) end, Old).

check_unique(Names) ->
    case Names -- lists:usort(Names) of
        [] -> ok;
        Dups -> error({duplicate_case_names, Dups})
    end.

write_file(Out, Rel, Data) ->
    ok = file:write_file(filename:join(Out, lists:flatten(Rel)), Data).

%% ---- writing and self-checks --------------------------------------------

write_golden(Out, Name, T) ->
    B = term_to_binary(T),
    true = (binary_to_term(B) =:= T) orelse error({no_round_trip, Name}),
    B = term_to_binary(binary_to_term(B)),
    Txt = text(T),
    case erlang_can_print(T) of
        true ->
            case check_text(T, Txt) of
                ok -> ok;
                Diff -> error({text_differs_from_erlang, Name, Diff})
            end;
        false -> ok
    end,
    write_file(Out, [Name, ".etf"], B),
    write_file(Out, [Name, ".txt"], Txt).

%% A map over 32 keys: Erlang writes it in its hash order; Grove writes it
%% sorted like a small map. NAME.input.etf holds Erlang's bytes, NAME.etf
%% the sorted ones (which Erlang reads back to the same map).
write_large_map(Out, Name, M) ->
    true = map_size(M) > 32,
    Erl = term_to_binary(M),
    Sorted = sorted_map_bytes(M),
    true = (Erl =/= Sorted) orelse error({hash_order_equals_sorted_order, Name}),
    true = (binary_to_term(Sorted) =:= M),
    write_file(Out, [Name, ".input.etf"], Erl),
    write_file(Out, [Name, ".etf"], Sorted),
    write_file(Out, [Name, ".txt"], text(M)).

sorted_map_bytes(M) ->
    Pairs = sort_map_pairs(maps:to_list(M)),
    iolist_to_binary([131, 116, <<(map_size(M)):32>>,
                      [[body(K), body(V)] || {K, V} <- Pairs]]).

body(T) ->
    <<131, Body/binary>> = term_to_binary(T),
    case is_map(T) andalso map_size(T) > 32 of
        true -> error(nested_large_map);
        false -> Body
    end.

%% A non-canonical encoding: NAME.input.etf, and the canonical bytes that
%% term_to_binary(binary_to_term(Input)) gives as NAME.etf.
write_canon(Out, Name, In) ->
    T = binary_to_term(In),
    Canon = term_to_binary(T),
    true = (Canon =/= In) orelse error({input_already_canonical, Name}),
    write_file(Out, [Name, ".input.etf"], In),
    write_file(Out, [Name, ".etf"], Canon),
    write_file(Out, [Name, ".txt"], text(T)).

%% Another spelling of a term: NAME.input.txt, and what Erlang makes of the
%% same text (scanned, parsed and evaluated) as NAME.etf and NAME.txt.
write_syntax(Out, Name, Chars) ->
    T = erlang_eval(Chars),
    Input = unicode:characters_to_binary(Chars),
    Txt = text(T),
    true = (Input =/= Txt) orelse error({syntax_case_is_the_printed_form, Name}),
    write_file(Out, [Name, ".input.txt"], Input),
    write_file(Out, [Name, ".etf"], term_to_binary(T)),
    write_file(Out, [Name, ".txt"], Txt).

erlang_eval(Chars) ->
    Dotted = case lists:reverse(string:trim(Chars, trailing)) of
                 [$. | _] -> Chars;
                 _ -> Chars ++ "."
             end,
    {ok, Tokens, _} = erl_scan:string(Dotted),
    {ok, [Expr]} = erl_parse:parse_exprs(Tokens),
    {value, T, _} = erl_eval:expr(Expr, []),
    T.

%% ErlangRejects: true when binary_to_term/1 refuses the bytes as well,
%% false when Erlang accepts them and only Grove refuses (compressed terms,
%% trailing bytes, funs, deep nesting, ...), either when it does not matter.
write_bad(Out, Name, B, ErlangRejects) ->
    Rejected = case catch binary_to_term(B) of
                   {'EXIT', _} -> true;
                   _ -> false
               end,
    case ErlangRejects of
        either -> ok;
        Rejected -> ok;
        _ -> error({erlang_disagrees, Name, {expected_reject, ErlangRejects}})
    end,
    write_file(Out, ["bad/", Name, ".etf"], B).

erlang_can_print(T) when is_pid(T); is_reference(T) -> false;
erlang_can_print(T) when is_atom(T) -> lists:all(fun(C) -> C =< 255 end, atom_to_list(T));
erlang_can_print(T) when is_tuple(T) -> erlang_can_print(tuple_to_list(T));
erlang_can_print(T) when is_map(T) -> erlang_can_print(maps:to_list(T)) andalso map_size(T) =< 32;
erlang_can_print([H | T]) -> erlang_can_print(H) andalso erlang_can_print(T);
erlang_can_print(_) -> true.

check_text(T, Txt) ->
    Erl = unicode:characters_to_binary(io_lib:print(T, 1, 1 bsl 40, -1), latin1),
    case Erl =:= Txt of
        true -> ok;
        false -> {grove, Txt, erlang, Erl}
    end.

%% ---- Grove's text syntax ------------------------------------------------
%%
%% One line, as Erlang's ~p prints a short term, extended for pids and
%% references: #Pid<NODE.ID.SERIAL.CREATION>, #Ref<NODE.W0.W1...CREATION>
%% (words in wire order, creation last, NODE written as an atom). Rules:
%%   - a proper non-empty list of Latin-1 printable bytes (32..126, 160..255,
%%     \b \t \n \v \f \r \e) prints as "..."; other lists as [a,b|t];
%%   - a binary prints as <<"...">> under the same rule, else <<1,2,3>>;
%%   - floats in ~p's shortest round-trip form;
%%   - atoms as io_lib:write_atom/1 writes them; an atom holding a character
%%     above 255 is quoted, its characters written as they are;
%%   - maps as #{K => V,...} in map-key order, whatever their size.
%% The result is UTF-8.

text(T) -> unicode:characters_to_binary(pr(T)).

pr(I) when is_integer(I) -> integer_to_list(I);
pr(F) when is_float(F) -> lists:flatten(io_lib:format("~p", [F]));
pr(A) when is_atom(A) -> atom_text(A);
pr(B) when is_binary(B) -> binary_text(B);
pr(P) when is_pid(P) -> pid_text(P);
pr(R) when is_reference(R) -> ref_text(R);
pr(T) when is_tuple(T) -> [${, join([pr(E) || E <- tuple_to_list(T)]), $}];
pr(M) when is_map(M) ->
    Pairs = sort_map_pairs(maps:to_list(M)),
    ["#{", join([[pr(K), " => ", pr(V)] || {K, V} <- Pairs]), $}];
pr([]) -> "[]";
pr(L) when is_list(L) ->
    case is_printable_bytes(L) of
        true -> [$", escape(L, $"), $"];
        false -> [$[, list_body(L), $]]
    end.

list_body([H]) -> pr(H);
list_body([H | T]) when is_list(T), T =/= [] -> [pr(H), $, | list_body(T)];
list_body([H | T]) -> [pr(H), $|, pr(T)].

join([]) -> [];
join([X]) -> [X];
join([X | Xs]) -> [X, $, | join(Xs)].

binary_text(<<>>) -> "<<>>";
binary_text(B) ->
    L = binary_to_list(B),
    case is_printable_bytes(L) of
        true -> ["<<\"", escape(L, $"), "\">>"];
        false -> ["<<", join([integer_to_list(X) || X <- L]), ">>"]
    end.

is_printable_bytes(L) -> L =/= [] andalso printable_list(L).

printable_list([]) -> true;
printable_list([C | T]) -> printable(C) andalso printable_list(T);
printable_list(_) -> false.

printable(C) when is_integer(C), C >= 32, C =< 126 -> true;
printable(C) when is_integer(C), C >= 160, C =< 255 -> true;
printable(C) when C =:= $\b; C =:= $\t; C =:= $\n; C =:= $\v;
                  C =:= $\f; C =:= $\r; C =:= $\e -> true;
printable(_) -> false.

atom_text(A) ->
    Chars = atom_to_list(A),
    case lists:all(fun(C) -> C =< 255 end, Chars) of
        true -> io_lib:write_atom(A);
        false -> [$', [esc(C, $') || C <- Chars], $']
    end.

escape(Chars, Q) -> [esc(C, Q) || C <- Chars].

esc(Q, Q) -> [$\\, Q];
esc($\\, _) -> "\\\\";
esc($\n, _) -> "\\n";
esc($\r, _) -> "\\r";
esc($\t, _) -> "\\t";
esc($\v, _) -> "\\v";
esc($\b, _) -> "\\b";
esc($\f, _) -> "\\f";
esc($\e, _) -> "\\e";
esc(127, _) -> "\\d";
esc(C, _) when C < 32; C >= 128, C < 160 -> [$\\ | io_lib:format("~3.8.0b", [C])];
esc(C, _) -> C.

pid_text(P) ->
    <<131, 88, Rest/binary>> = term_to_binary(P),
    {Node, <<Id:32, Serial:32, Creation:32>>} = node_atom(Rest),
    ["#Pid<", atom_text(Node), $., integer_to_list(Id), $., integer_to_list(Serial), $.,
     integer_to_list(Creation), $>].

ref_text(R) ->
    <<131, 90, Len:16, Rest/binary>> = term_to_binary(R),
    {Node, <<Creation:32, Words/binary>>} = node_atom(Rest),
    Len = byte_size(Words) div 4,
    ["#Ref<", atom_text(Node), [[$., integer_to_list(W)] || <<W:32>> <= Words], $.,
     integer_to_list(Creation), $>].

node_atom(<<100, N:16, Name:N/binary, Rest/binary>>) -> {binary_to_atom(Name, latin1), Rest};
node_atom(<<118, N:16, Name:N/binary, Rest/binary>>) -> {binary_to_atom(Name, utf8), Rest};
node_atom(<<119, N:8, Name:N/binary, Rest/binary>>) -> {binary_to_atom(Name, utf8), Rest}.

%% Erlang's order of map keys: the exact term order, in which every integer
%% comes before every float (so 1 and 1.0 are different keys, 3 comes
%% before 2.5, and {1} before {1.0}), at any depth.
sort_map_pairs(Pairs) ->
    lists:sort(fun({A, _}, {B, _}) -> exact_cmp(A, B) =/= gt end, Pairs).

exact_cmp(A, B) when is_integer(A), is_float(B) -> lt;
exact_cmp(A, B) when is_float(A), is_integer(B) -> gt;
exact_cmp(A, B) when is_tuple(A), is_tuple(B), tuple_size(A) =:= tuple_size(B) ->
    exact_cmp(tuple_to_list(A), tuple_to_list(B));
exact_cmp([HA | TA], [HB | TB]) ->
    case exact_cmp(HA, HB) of
        eq -> exact_cmp(TA, TB);
        R -> R
    end;
exact_cmp(A, B) when is_map(A), is_map(B), map_size(A) =:= map_size(B) ->
    {KA, VA} = lists:unzip(sort_map_pairs(maps:to_list(A))),
    {KB, VB} = lists:unzip(sort_map_pairs(maps:to_list(B))),
    case exact_cmp(KA, KB) of
        eq -> exact_cmp(VA, VB);
        R -> R
    end;
exact_cmp(A, B) when A < B -> lt;
exact_cmp(A, B) when A > B -> gt;
exact_cmp(_, _) -> eq.

%% ---- building blocks ----------------------------------------------------

%% A pid or reference on another node, made from crafted wire bytes
%% (NEW_PID_EXT, NEWER_REFERENCE_EXT). Node is a string of code points.
pid(Node, Id, Serial, Creation) ->
    binary_to_term(<<131, 88, (utf8_atom(Node))/binary, Id:32, Serial:32, Creation:32>>).

ref(Node, Creation, Words) ->
    binary_to_term(<<131, 90, (length(Words)):16, (utf8_atom(Node))/binary, Creation:32,
                     (<< <<W:32>> || W <- Words >>)/binary>>).

utf8_atom(Chars) ->
    B = unicode:characters_to_binary(Chars),
    <<119, (byte_size(B)), B/binary>>.

ua(Chars) -> list_to_atom(Chars).   % an atom from code points

float_bits(Bits) ->
    <<F/float>> = <<Bits:64>>,
    F.

seq_bytes(N) -> [I rem 256 || I <- lists:seq(0, N - 1)].

nest(0, Inner, _) -> Inner;
nest(N, Inner, Wrap) -> nest(N - 1, Wrap(Inner), Wrap).

%% ---- the golden cases ---------------------------------------------------

golden_cases() ->
    ints() ++ bigs() ++ floats() ++ atoms() ++ binaries() ++ lists() ++ tuples()
        ++ maps() ++ pids_refs() ++ messages().

ints() ->
    [{"int_0", 0},
     {"int_1", 1},
     {"int_minus_1", -1},
     {"int_255", 255},
     {"int_256", 256},
     {"int_minus_255", -255},
     {"int_minus_256", -256},
     {"int_2p27", 1 bsl 27},
     {"int_2p31_minus_1", (1 bsl 31) - 1},
     {"int_minus_2p31", -(1 bsl 31)},
     {"int_2p31", 1 bsl 31},
     {"int_minus_2p31_minus_1", -(1 bsl 31) - 1},
     {"int_2p32", 1 bsl 32},
     {"int_2p63_minus_1", (1 bsl 63) - 1},
     {"int_minus_2p63", -(1 bsl 63)},
     {"int_2p63", 1 bsl 63},
     {"int_minus_2p63_minus_1", -(1 bsl 63) - 1},
     {"int_2p64_minus_1", (1 bsl 64) - 1},
     {"int_2p64", 1 bsl 64},
     {"int_minus_2p64", -(1 bsl 64)}].

bigs() ->
    [{"big_300_digits", pow(10, 299) + 123456789},
     {"big_minus_300_digits", -(pow(10, 299) + 987654321)},
     {"big_255_bytes", (1 bsl 2040) - 1},     % the largest SMALL_BIG_EXT
     {"big_256_bytes", 1 bsl 2040},           % the smallest LARGE_BIG_EXT
     {"big_2p2100", 1 bsl 2100},
     {"big_minus_2p2100", -(1 bsl 2100)},
     {"big_2p2100_plus_1", (1 bsl 2100) + 1},
     {"big_4000_digits", pow(7, 4733)}].

pow(B, E) -> pow(B, E, 1).
pow(_, 0, Acc) -> Acc;
pow(B, E, Acc) -> pow(B, E - 1, Acc * B).

floats() ->
    [{"float_0", 0.0},
     {"float_minus_0", float_bits(16#8000000000000000)},
     {"float_1_5", 1.5},
     {"float_minus_2_5", -2.5},
     {"float_1", 1.0},
     {"float_10", 10.0},
     {"float_100", 100.0},
     {"float_1000", 1000.0},
     {"float_12345", 12345.0},
     {"float_1e10", 1.0e10},
     {"float_1e21", 1.0e21},
     {"float_1e23", 1.0e23},
     {"float_0_1", 0.1},
     {"float_0_001", 0.001},
     {"float_0_0012", 0.0012},
     {"float_1_2e_minus_4", 1.2e-4},
     {"float_1e_minus_5", 1.0e-5},
     {"float_third", 1 / 3},
     {"float_pi", math:pi()},
     {"float_123_456", 123.456},
     {"float_1_2345678901234568e17", 1.2345678901234568e17},
     {"float_2p53", 9007199254740992.0},
     {"float_denorm_min", float_bits(1)},
     {"float_denorm_4e_minus_320", 4.0e-320},
     {"float_denorm_max", float_bits(16#000FFFFFFFFFFFFF)},
     {"float_min_normal", float_bits(16#0010000000000000)},
     {"float_max", float_bits(16#7FEFFFFFFFFFFFFF)},
     {"float_minus_max", float_bits(16#FFEFFFFFFFFFFFFF)},
     {"float_minus_denorm_min", float_bits(16#8000000000000001)}].

atoms() ->
    Cyr = [16#43F, 16#440, 16#438, 16#432, 16#435, 16#442],   % "privet"
    [{"atom_a", a},
     {"atom_true", true},
     {"atom_empty", ''},
     {"atom_quoted", 'Quoted atom'},
     {"atom_uppercase", 'Hello'},
     {"atom_underscore_start", '_x'},
     {"atom_digits", a123},
     {"atom_at", 'node@host'},
     {"atom_dot", 'a.b'},
     {"atom_reserved_and", 'and'},
     {"atom_reserved_receive", 'receive'},
     {"atom_quote", 'it\'s'},
     {"atom_backslash", 'a\\b'},
     {"atom_double_quote", 'say"hi"'},
     {"atom_newline", 'a\nb'},
     {"atom_tab", 'a\tb'},
     {"atom_control", ua([$a, 1, $b])},
     {"atom_del", ua([$a, 127, $b])},
     {"atom_latin1_c1", ua([$a, 128, $b])},
     {"atom_cafe", ua("caf" ++ [233])},
     {"atom_latin1_upper", ua([201, $t, $e])},
     {"atom_latin1_sharp_s", ua([223])},
     {"atom_latin1_nbsp", ua([$a, 160, $b])},
     {"atom_latin1_all_high", ua(lists:seq(160, 255))},
     {"atom_unicode", ua(Cyr)},
     {"atom_unicode_mixed", ua([$a, 233, 16#65E5, 16#672C])},
     {"atom_emoji", ua([16#1F600])},
     {"atom_unicode_quote", ua([16#43F, $', 16#440])},
     {"atom_255_ascii", ua(lists:duplicate(255, $a))},
     {"atom_255_latin1", ua(lists:duplicate(255, 233))},
     {"atom_127_cyrillic", ua(lists:duplicate(127, 16#43F))},   % 254 bytes: SMALL_ATOM_UTF8_EXT
     {"atom_128_cyrillic", ua(lists:duplicate(128, 16#43F))},   % 256 bytes: ATOM_UTF8_EXT
     {"atom_255_cyrillic", ua(lists:duplicate(255, 16#43F))},
     {"atom_255_emoji", ua(lists:duplicate(255, 16#1F600))}].   % 1020 bytes

binaries() ->
    [{"binary_empty", <<>>},
     {"binary_hello", <<"hello">>},
     {"binary_one_zero", <<0>>},
     {"binary_all_bytes", list_to_binary(lists:seq(0, 255))},
     {"binary_escapes", <<"q\"b\\s\n\t\r\v\b\f\e'">>},
     {"binary_latin1", <<"caf", 233>>},
     {"binary_utf8", unicode:characters_to_binary([16#43F, 16#440])},
     {"binary_c1_byte", <<"ab", 150, "cd">>},
     {"binary_del", <<"ab", 127>>},
     {"binary_1000", list_to_binary(seq_bytes(1000))}].

lists() ->
    [{"nil", []},
     {"string_hello", "hello"},
     {"string_one_char", "x"},
     {"string_escapes", "q\"b\\s\n\t\r\v\b\f\e'"},
     {"string_latin1", "caf" ++ [233]},
     {"string_space", " "},
     {"bytelist_zero", [0]},
     {"bytelist_nonprintable", [0, 1, 2, 200, 255]},
     {"bytelist_mostly_printable", "hello" ++ [0]},
     {"bytelist_del", "ab" ++ [127]},
     {"bytelist_c1", "ab" ++ [128]},
     {"string_65535", lists:duplicate(65535, $x)},                 % the longest STRING_EXT
     {"list_65536_printable", lists:duplicate(65536, $x)},          % LIST_EXT
     {"list_65536_bytes", seq_bytes(65536)},
     {"list_int_256", [1, 256, 3]},
     {"list_negative", [1, -1]},
     {"list_unicode_codepoints", [16#43F, 16#440]},
     {"list_atoms", [a, b, c]},
     {"list_mixed", [a, 1, "s", <<>>, 2.5, {}, #{}, []]},
     {"list_of_strings", ["ab", "cd", ""]},
     {"list_of_nils", [[], [[]], [[], []]]},
     {"list_big_elements", [1 bsl 64, -(1 bsl 64)]},
     {"improper_int_tail", [1, 2 | 3]},
     {"improper_one", [1 | 2]},
     {"improper_atom_tail", [a | b]},
     {"improper_binary_tail", [104, 105 | <<"x">>]},
     {"improper_tuple_tail", [[] | {}]},
     {"improper_map_tail", ["s" | #{a => 1}]},
     {"deep_list_heads_500", nest(500, [], fun(X) -> [X] end)}].

tuples() ->
    [{"tuple_empty", {}},
     {"tuple_one", {a}},
     {"tuple_pair", {ok, 1}},
     {"tuple_255", list_to_tuple(lists:seq(1, 255))},
     {"tuple_256", list_to_tuple(lists:seq(1, 256))},           % LARGE_TUPLE_EXT
     {"tuple_1000_nils", list_to_tuple(lists:duplicate(1000, []))},
     {"tuple_nested", {{}, {{a}}, {1, {2, {3}}}}},
     {"deep_tuple_500", nest(500, x, fun(X) -> {X} end)}].

maps() ->
    P = pid("node@host", 1, 2, 3),
    R = ref("node@host", 3, [1, 2, 3]),
    Cyr = ua([16#43F]),
    [{"map_empty", #{}},
     {"map_one", #{a => 1}},
     {"map_atoms", #{b => 2, a => 1, c => 3}},
     {"map_int_float_order", #{1 => a, 2.5 => b, 3 => c, 1.0 => d, -7 => e, -0.5 => f}},
     {"map_mixed_keys",
      #{1 => int, -1 => neg, (1 bsl 70) => big, 1.5 => float, a => atom, 'B' => upper,
        {} => empty_tuple, {1, 2} => pair, [] => nil, "str" => string, [1, 2] => bytes,
        [a] => list, <<>> => empty_binary, <<"bin">> => binary, #{} => empty_map,
        P => pid, R => ref}},
     {"map_binary_keys", #{<<"b">> => 1, <<"aa">> => 2, <<"a">> => 3, <<>> => 4,
                           <<255>> => 5}},
     {"map_tuple_keys", #{{b} => 1, {a, a} => 2, {a} => 3, {} => 4, {z, z, z} => 5}},
     {"map_list_keys", #{[2] => 1, [1, 2, 3] => 2, [1, 2] => 3, "b" => 4, [a] => 5}},
     {"map_atom_keys_codepoints",
      #{'B' => 1, a => 2, aa => 3, b => 4, ua([233]) => 5, Cyr => 6, z => 7,
        ua([16#1F600]) => 8, ua([255]) => 9}},
     {"map_neg_zero_key", #{float_bits(16#8000000000000000) => x}},
     {"map_nested", #{a => #{b => #{c => []}}, d => [#{}], e => {#{1 => #{}}}}},
     {"map_map_keys", #{#{} => 1, #{a => 1} => 2, #{b => 0} => 3, #{a => 1, b => 2} => 4}},
     {"map_32_keys", maps:from_list([{list_to_atom("k" ++ integer_to_list(I)), I}
                                     || I <- lists:seq(1, 32)])},
     {"map_32_int_keys", maps:from_list([{I * 7919 rem 1000, I} || I <- lists:seq(1, 32)])},
     {"map_nested_number_keys",
      #{{1} => a, {1.0} => b, [2.0] => c, [2] => d, {1, 2.0} => e, {1.0, 2} => f,
        #{1 => x} => g, #{1.0 => x} => h, [1 | 2.0] => i, [1 | 2] => j}},
     {"map_values_everywhere", #{k => [#{}, {#{x => "y"}}], l => <<"v">>}}].

large_map_cases() ->
    [{"map_33_keys", maps:from_list([{list_to_atom("k" ++ integer_to_list(I)), I}
                                     || I <- lists:seq(1, 33)])},
     {"map_100_int_keys", maps:from_list([{I * 7919 rem 10007, {v, I}}
                                          || I <- lists:seq(1, 100)])},
     {"map_36_nested_number_keys",
      maps:from_list([{{I}, int} || I <- lists:seq(1, 12)]
                     ++ [{{I + 0.0}, float} || I <- lists:seq(1, 12)]
                     ++ [{[I | 0.5], list} || I <- lists:seq(1, 6)]
                     ++ [{#{I => 1.0}, map} || I <- lists:seq(1, 6)])},
     {"map_40_mixed_keys",
      maps:from_list([{I, int} || I <- lists:seq(1, 10)]
                     ++ [{I + 0.5, float} || I <- lists:seq(1, 10)]
                     ++ [{list_to_atom("key_" ++ [$a + I]), atom} || I <- lists:seq(0, 9)]
                     ++ [{<<I>>, bin} || I <- lists:seq(1, 10)])}].

pids_refs() ->
    IpNode = "a@127.0.0.1",
    Unode = [16#443, 16#437, 16#435, 16#43B, $@, $h],            % Cyrillic name@h
    L1node = [$n, 246, $d, $e, $@, $h, $o, $s, $t],               % Latin-1 name
    [{"pid_basic", pid("node@host", 85, 0, 1234)},
     {"pid_ip_node", pid(IpNode, 1, 2, 3)},
     {"pid_zero", pid("n@h", 0, 0, 0)},
     {"pid_max", pid("node@host", 16#FFFFFFFF, 16#FFFFFFFF, 16#FFFFFFFF)},
     {"pid_big_creation", pid("grove@example.org", 4711, 7, 16#9E3779B9)},
     {"pid_unicode_node", pid(Unode, 12, 1, 99)},
     {"pid_latin1_node", pid(L1node, 5, 0, 1)},
     {"ref_basic", ref("node@host", 1234, [1, 2, 3])},
     {"ref_1_word", ref("node@host", 1, [42])},
     {"ref_2_words", ref("n@h", 7, [16#FFFFFFFF, 0])},
     {"ref_4_words", ref("n@h", 7, [1, 2, 3, 4])},
     {"ref_5_words", ref("node@host", 16#FFFFFFFF, [5, 4, 3, 2, 1])},
     {"ref_ip_node", ref(IpNode, 3, [100, 200, 300])},
     {"ref_zero", ref("n@h", 0, [0, 0, 0])},
     {"ref_unicode_node", ref(Unode, 9, [7, 8, 9])},
     {"ref_latin1_node", ref(L1node, 9, [7, 8, 9])},
     {"pids_refs_in_list", [pid("a@h", 1, 0, 1), ref("a@h", 1, [1, 2, 3]),
                            pid(IpNode, 2, 0, 1)]}].

messages() ->
    Client = pid("client@10.0.0.7", 4411, 0, 1700000001),
    Server = pid("bank@10.0.0.8", 91, 3, 1700000002),
    Tag = ref("client@10.0.0.7", 1700000001, [172211, 2891304513, 377964]),
    [{"msg_gen_call",
      {'$gen_call', {Client, [alias | Tag]},
       {deposit, #{account => <<"acc-42">>, amount => 50, currency => 'EUR',
                   meta => #{retries => 0, tags => ["urgent", "web"], trace => undefined},
                   ts => 1700000000123}}}},
     {"msg_gen_reply", {[alias | Tag], {ok, #{balance => 1050, history => [50, -20, 1.25e3]}}}},
     {"msg_exit", {'EXIT', Server, {badarith, [{bank, apply, 2, [{file, "bank.erl"},
                                                                  {line, 42}]}]}}},
     {"msg_down", {'DOWN', Tag, process, Server, noconnection}},
     {"msg_log", {log, info, <<"user ", 233, " logged in">>, #{pid => Client, n => -3}}},
     {"msg_mixed_everything",
      [0, -1, 255, 256, 1 bsl 64, 2.5, float_bits(16#8000000000000000), '', 'caf\x{e9}',
       ua([16#43F]), <<>>, <<1, 2, 3>>, "str", [1, 2 | 3], {}, {a, {b}}, #{}, #{1 => 2},
       Client, Tag]}].

%% ---- inputs Grove must accept and canonicalize ---------------------------

canon_cases() ->
    Pi = <<16#D0, 16#BF>>,                                          % U+043F in UTF-8
    Chain = fun(Bytes) -> chained_list(Bytes) end,
    [{"canon_atom_utf8_ext", <<131, 118, 0, 3, "abc">>},
     {"canon_small_atom_ext", <<131, 115, 3, "abc">>},
     {"canon_small_atom_ext_latin1", <<131, 115, 4, "caf", 233>>},
     {"canon_atom_utf8_ext_latin1", <<131, 118, 0, 5, "caf", 16#C3, 16#A9>>},
     {"canon_small_atom_utf8_latin1", <<131, 119, 5, "caf", 16#C3, 16#A9>>},
     {"canon_atom_utf8_ext_unicode", <<131, 118, 0, 4, Pi/binary, Pi/binary>>},
     {"canon_atom_utf8_ext_empty", <<131, 118, 0, 0>>},
     {"canon_small_big_small_value", <<131, 110, 1, 0, 5>>},
     {"canon_small_big_int32_value", <<131, 110, 2, 0, 232, 3>>},
     {"canon_small_big_negative_small", <<131, 110, 1, 1, 5>>},
     {"canon_small_big_minus_2p31", <<131, 110, 4, 1, 0, 0, 0, 128>>},
     {"canon_small_big_high_zero_bytes", <<131, 110, 4, 0, 1, 0, 0, 0>>},
     {"canon_small_big_no_digits", <<131, 110, 0, 0>>},
     {"canon_small_big_minus_zero", <<131, 110, 1, 1, 0>>},
     {"canon_small_big_2p64_padded", <<131, 110, 12, 0, 0:64, 1, 0, 0, 0>>},
     {"canon_large_big_small_value", <<131, 111, 0, 0, 0, 1, 0, 5>>},
     {"canon_large_big_2p64", <<131, 111, 0, 0, 0, 9, 0, 0:64, 1>>},
     {"canon_integer_ext_small_value", <<131, 98, 0, 0, 0, 5>>},
     {"canon_integer_ext_zero", <<131, 98, 0, 0, 0, 0>>},
     {"canon_list_ext_bytes", <<131, 108, 0, 0, 0, 3, 97, 1, 97, 2, 97, 3, 106>>},
     {"canon_list_ext_printable", <<131, 108, 0, 0, 0, 2, 97, $h, 97, $i, 106>>},
     {"canon_list_ext_int_ext_bytes", <<131, 108, 0, 0, 0, 2, 98, 0, 0, 0, 7, 110, 1, 0, 8, 106>>},
     {"canon_list_ext_empty", <<131, 108, 0, 0, 0, 0, 106>>},
     {"canon_string_ext_empty", <<131, 107, 0, 0>>},
     {"canon_list_chained_tails", Chain([1, 2, 3])},
     {"canon_list_chained_1000", Chain(seq_bytes(1000))},           % tails: no depth limit
     {"canon_list_chained_into_string",
      <<131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 3, "abc">>},           % [1 | "abc"]
     {"canon_list_chained_mixed",
      <<131, 108, 0, 0, 0, 1, 100, 0, 1, $a, 108, 0, 0, 0, 1, 100, 0, 1, $b, 107, 0, 2, "cd">>},
     {"canon_list_chained_improper",
      <<131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 97, 3>>}, % [1 | [2 | 3]]
     {"canon_list_chained_65536",
      <<131, 108, 0, 0, 0, 1, 97, $x, 107, 255, 255, (binary:copy(<<"x">>, 65535))/binary>>},
     {"canon_large_tuple_small", <<131, 105, 0, 0, 0, 2, 97, 1, 97, 2>>},
     {"canon_large_tuple_empty", <<131, 105, 0, 0, 0, 0>>},
     {"canon_map_unsorted", <<131, 116, 0, 0, 0, 2, 100, 0, 1, $b, 97, 1, 100, 0, 1, $a, 97, 2>>},
     {"canon_map_unsorted_mixed",
      <<131, 116, 0, 0, 0, 3, 100, 0, 1, $a, 97, 1, 70, 16#3FF8:16, 0:48, 97, 2, 97, 9, 97, 3>>},
     {"canon_map_keys_reencoded",        % SMALL_BIG 300 before 5: sorts after once re-encoded
      <<131, 116, 0, 0, 0, 2, 110, 2, 0, 44, 1, 97, 1, 98, 0, 0, 0, 5, 97, 2>>},
     {"canon_map_key_atom_encodings",    % b as SMALL_ATOM_UTF8, a as ATOM_UTF8
      <<131, 116, 0, 0, 0, 2, 119, 1, $b, 97, 1, 118, 0, 1, $a, 97, 2>>},
     {"canon_bit_binary_whole_bytes", <<131, 77, 0, 0, 0, 2, 8, 1, 255>>},
     {"canon_pid_small_atom_utf8_node",
      <<131, 88, 119, 9, "node@host", 0, 0, 0, 85, 0, 0, 0, 0, 0, 0, 4, 210>>},
     {"canon_pid_atom_utf8_node",
      <<131, 88, 118, 0, 9, "node@host", 0, 0, 0, 85, 0, 0, 0, 0, 0, 0, 4, 210>>},
     {"canon_pid_small_atom_node",
      <<131, 88, 115, 3, "n@h", 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3>>},
     {"canon_ref_small_atom_node",
      <<131, 90, 0, 2, 115, 3, "n@h", 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2>>},
     {"canon_ref_atom_utf8_latin1_node",
      <<131, 90, 0, 1, 118, 0, 5, $n, 16#C3, 16#B6, $@, $h, 0, 0, 0, 3, 0, 0, 0, 1>>},
     {"canon_nested_everything",         % {SMALL_BIG 5, ATOM_UTF8 abc, [1,2] as LIST_EXT, LARGE_TUPLE {}}
      <<131, 104, 4, 110, 1, 0, 5, 118, 0, 3, "abc",
        108, 0, 0, 0, 2, 97, 1, 97, 2, 106, 105, 0, 0, 0, 0>>},
     {"canon_in_map_value",
      <<131, 116, 0, 0, 0, 1, 100, 0, 1, $k, 108, 0, 0, 0, 1, 110, 1, 0, 7, 106>>}].

%% [B1 | [B2 | ... [Bn | []]]], every cons its own one-element LIST_EXT.
chained_list(Bytes) ->
    iolist_to_binary([131, [[108, 0, 0, 0, 1, 97, B] || B <- Bytes], 106]).

%% ---- other spellings Grove must parse ------------------------------------
%%
%% Text in Erlang's syntax that is not the printed form; Erlang evaluates each
%% to give the expected term. (Strings of code points: the files are UTF-8.)

syntax_cases() ->
    [{"syntax_char", "$a"},
     {"syntax_char_escape", "$\\n"},
     {"syntax_char_hex", "$\\x{e9}"},
     {"syntax_char_list", "[$h, $i]"},
     {"syntax_hex", "16#ff"},
     {"syntax_hex_upper", "16#FF"},
     {"syntax_negative_hex_big", "-16#7FFFFFFFFFFFFFFFF"},
     {"syntax_base2", "2#1010"},
     {"syntax_base36", "36#zz"},
     {"syntax_base36_big", "36#" ++ lists:duplicate(40, $Z)},
     {"syntax_base17_big", "-17#" ++ lists:duplicate(200, $G)},
     {"syntax_base2_big", "2#1" ++ lists:duplicate(100, $0)},
     {"syntax_underscores", "1_000_000"},
     {"syntax_minus_zero_int", "-0"},
     {"syntax_float_exp_plus", "2.5e+3"},
     {"syntax_float_exp_upper", "1.0E10"},
     {"syntax_float_long", "0.1000000000000000055511151231257827"},
     {"syntax_float_many_digits", "3.14159265358979323846264338327950288"},
     {"syntax_spaces", " { ok , [ 1 , 2 ] } "},
     {"syntax_newlines_tabs", "{ok,\n\t1,\r\n2}"},
     {"syntax_comment", "% a comment\n{a, % another\n b}"},
     {"syntax_final_dot", "{a, b}."},
     {"syntax_final_dot_space", "[1, 2] .  "},
     {"syntax_quoted_plain_atom", "'abc'"},
     {"syntax_atom_escape_unicode", "'\\x{43F}\\x{440}'"},
     {"syntax_atom_escape_latin1", "'caf\\x{e9}'"},
     {"syntax_atom_octal", "'a\\101b'"},
     {"syntax_atom_ctrl", "'a\\^Ab'"},
     {"syntax_string_hex", "\"\\x{e9}\\x41\""},
     {"syntax_string_octal", "\"\\101\\7\\0\""},
     {"syntax_string_ctrl", "\"\\^A\\^z\""},
     {"syntax_string_escape_beyond_latin1", "\"\\x{100}\""},
     {"syntax_string_raw_beyond_latin1", [$", 16#43F, $"]},
     {"syntax_string_escapes_all", "\"\\b\\d\\e\\f\\n\\r\\s\\t\\v\\'\\\"\\\\\""},
     {"syntax_binary_empty_string", "<<\"\">>"},
     {"syntax_binary_segments", "<<1, \"ab\", 2>>"},
     {"syntax_binary_utf8", [$<, $<, $", 16#43F, 16#440, $", $/, $u, $t, $f, $8, $>, $>]},
     {"syntax_binary_hex_bytes", "<<16#ff, 2#1, $a>>"},
     {"syntax_list_spliced_tail", "[1, 2 | [3]]"},
     {"syntax_list_string_tail", "[1 | \"ab\"]"},
     {"syntax_list_nil_tail", "[a | []]"},
     {"syntax_map_unsorted", "#{b => 1, a => 2}"},
     {"syntax_map_int_float", "#{2.0 => a, 1 => b}"},
     {"syntax_nested_empty", "{[], {}, #{}, <<>>, \"\"}"},
     {"syntax_empty_string", "\"\""}].

%% ---- inputs Grove must reject --------------------------------------------

bad_cases() ->
    A256 = binary:copy(<<"a">>, 256),
    Node = <<100, 0, 9, "node@host">>,
    Compressed = term_to_binary(lists:duplicate(200, hello), [compressed]),
    <<131, 80, _/binary>> = Compressed,
    Nan = <<70, 16#7FF8:16, 0:48>>,
    [{"empty", <<>>, true},
     {"version_only", <<131>>, true},
     {"missing_version", <<97, 1>>, true},
     {"missing_version_tuple", <<104, 2, 97, 1, 97, 2>>, true},
     {"wrong_version", <<130, 97, 1>>, true},
     {"trailing_byte", <<131, 97, 1, 0>>, false},
     {"trailing_term", <<131, 97, 1, 97, 2>>, false},
     {"trailing_after_nil", <<131, 106, 106>>, false},
     {"truncated_small_int", <<131, 97>>, true},
     {"truncated_integer", <<131, 98, 0, 0, 1>>, true},
     {"truncated_float", <<131, 70, 63, 240, 0, 0>>, true},
     {"truncated_atom_length", <<131, 100, 0>>, true},
     {"atom_length_past_end", <<131, 100, 0, 5, "abc">>, true},
     {"small_atom_utf8_length_past_end", <<131, 119, 10, "abc">>, true},
     {"atom_utf8_length_past_end", <<131, 118, 1, 0, "abc">>, true},
     {"binary_length_past_end", <<131, 109, 0, 0, 0, 10, "abc">>, true},
     {"binary_length_huge", <<131, 109, 255, 255, 255, 255, "abc">>, true},
     {"string_length_past_end", <<131, 107, 0, 10, "abc">>, true},
     {"list_length_past_end", <<131, 108, 0, 0, 0, 3, 97, 1, 97, 2>>, true},
     {"list_length_huge", <<131, 108, 255, 255, 255, 255, 106>>, true},
     {"list_missing_tail", <<131, 108, 0, 0, 0, 1, 97, 1>>, true},
     {"tuple_arity_past_end", <<131, 104, 3, 97, 1, 97, 2>>, true},
     {"large_tuple_arity_huge", <<131, 105, 255, 255, 255, 255, 97, 1>>, true},
     {"map_arity_past_end", <<131, 116, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3>>, true},
     {"map_arity_huge", <<131, 116, 255, 255, 255, 255, 97, 1>>, true},
     {"map_missing_value", <<131, 116, 0, 0, 0, 1, 97, 1>>, true},
     {"small_big_missing_sign", <<131, 110, 1>>, true},
     {"small_big_past_end", <<131, 110, 8, 0, 1, 2, 3>>, true},
     {"large_big_length_huge", <<131, 111, 255, 255, 255, 255, 0, 1>>, true},
     {"pid_truncated", <<131, 88, Node/binary, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0>>, true},
     {"pid_node_not_atom", <<131, 88, 97, 1, 0:96>>, true},
     {"pid_node_invalid_utf8", <<131, 88, 119, 2, 16#C3, 16#28, 0:96>>, true},
     {"ref_truncated", <<131, 90, 0, 3, Node/binary, 0, 0, 0, 1, 0, 0, 0, 1>>, true},
     {"ref_six_words", <<131, 90, 0, 6, Node/binary, 0, 0, 0, 1, 0:192>>, true},
     {"ref_node_not_atom", <<131, 90, 0, 1, 97, 1, 0, 0, 0, 1, 0, 0, 0, 1>>, true},
     {"float_nan", <<131, Nan/binary>>, true},
     {"float_nan_negative", <<131, 70, 16#FFF8:16, 0:48>>, true},
     {"float_nan_payload", <<131, 70, 16#7FF0:16, 0:40, 1>>, true},
     {"float_inf", <<131, 70, 16#7FF0:16, 0:48>>, true},
     {"float_minus_inf", <<131, 70, 16#FFF0:16, 0:48>>, true},
     {"float_nan_in_list", <<131, 108, 0, 0, 0, 1, Nan/binary, 106>>, true},
     {"float_nan_in_map_key", <<131, 116, 0, 0, 0, 1, Nan/binary, 97, 1>>, true},
     {"map_duplicate_keys", <<131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2>>, true},
     {"map_duplicate_keys_apart",
      <<131, 116, 0, 0, 0, 3, 100, 0, 1, $a, 97, 1, 100, 0, 1, $b, 97, 2, 100, 0, 1, $a, 97, 3>>,
      true},
     {"map_duplicate_keys_zero_floats",
      <<131, 116, 0, 0, 0, 2, 70, 0:64, 97, 1, 70, 128, 0:56, 97, 2>>, true},
     {"map_duplicate_keys_atom_encodings",
      <<131, 116, 0, 0, 0, 2, 100, 0, 1, $a, 97, 1, 119, 1, $a, 97, 2>>, true},
     {"map_duplicate_keys_int_encodings",
      <<131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 98, 0, 0, 0, 1, 97, 2>>, true},
     {"map_duplicate_keys_big_encodings",
      <<131, 116, 0, 0, 0, 2, 110, 1, 0, 1, 97, 1, 97, 1, 97, 2>>, true},
     {"map_duplicate_keys_string_encodings",
      <<131, 116, 0, 0, 0, 2, 107, 0, 2, 1, 2, 97, 1, 108, 0, 0, 0, 2, 97, 1, 97, 2, 106, 97, 2>>,
      true},
     {"map_duplicate_keys_zero_floats_in_tuples",
      <<131, 116, 0, 0, 0, 2, 104, 1, 70, 0:64, 97, 1, 104, 1, 70, 128, 0:56, 97, 2>>, true},
     {"map_duplicate_keys_nested",
      <<131, 104, 1, 116, 0, 0, 0, 1, 100, 0, 1, $m,
        116, 0, 0, 0, 2, 104, 1, 97, 1, 106, 104, 1, 97, 1, 106>>, true},
     {"atom_invalid_utf8", <<131, 119, 2, 16#C3, 16#28>>, true},
     {"atom_utf8_ext_invalid_utf8", <<131, 118, 0, 2, 16#C3, 16#28>>, true},
     {"atom_overlong_utf8", <<131, 119, 2, 16#C0, 16#80>>, true},
     {"atom_surrogate_utf8", <<131, 119, 3, 16#ED, 16#A0, 16#80>>, true},
     {"atom_beyond_unicode", <<131, 119, 4, 16#F4, 16#90, 16#80, 16#80>>, true},
     {"atom_truncated_utf8", <<131, 119, 1, 16#C3>>, true},
     {"atom_lone_continuation", <<131, 119, 1, 16#80>>, true},
     {"atom_256_chars_atom_ext", <<131, 100, 1, 0, A256/binary>>, true},
     {"atom_256_chars_atom_utf8_ext", <<131, 118, 1, 0, A256/binary>>, true},
     {"atom_256_chars_two_byte_utf8",
      <<131, 118, 2, 0, (binary:copy(<<16#D0, 16#BF>>, 256))/binary>>, true},
     {"compressed_term", Compressed, false},
     {"compressed_garbage", <<131, 80, 0, 0, 0, 10, 1, 2, 3>>, true},
     {"tag_0", <<131, 0>>, true},
     {"tag_255", <<131, 255>>, true},
     {"tag_66", <<131, 66, 0, 0, 0, 0>>, true},
     {"tag_local_ext", <<131, 121, 97, 1>>, true},
     {"export_fun", term_to_binary(fun erlang:abs/1), false},
     {"new_port_ext", <<131, 89, Node/binary, 0, 0, 0, 1, 0, 0, 0, 1>>, either},
     {"v4_port_ext", <<131, 120, Node/binary, 0:64, 0, 0, 0, 1>>, either},
     {"bit_binary_partial_byte", <<131, 77, 0, 0, 0, 1, 3, 224>>, false},
     {"bit_binary_zero_bits", <<131, 77, 0, 0, 0, 1, 0, 255>>, true},
     {"deep_tuples_600", iolist_to_binary([131, lists:duplicate(600, [104, 1]), 106]), false},
     {"deep_list_heads_600",
      iolist_to_binary([131, lists:duplicate(600, [108, 0, 0, 0, 1]),
                        106, lists:duplicate(600, 106)]), false},
     {"deep_maps_600",
      iolist_to_binary([131, lists:duplicate(600, [116, 0, 0, 0, 1, 97, 0]), 106]), false},
     {"deep_tuples_100000",
      iolist_to_binary([131, lists:duplicate(100000, [104, 1]), 106]), either}].

bad_text_cases() ->
    [{"empty", ""},
     {"only_space", "   "},
     {"unterminated_tuple", "{1,2"},
     {"unterminated_list", "[1,2"},
     {"unterminated_map", "#{a => 1"},
     {"unterminated_string", "\"abc"},
     {"unterminated_atom", "'abc"},
     {"unterminated_binary", "<<1,2"},
     {"unbalanced_close", "}"},
     {"missing_tail", "[1|]"},
     {"two_tails", "[1|2|3]"},
     {"double_comma", "{1,,2}"},
     {"leading_comma", "[,1]"},
     {"two_terms", "1 2"},
     {"trailing_garbage", "{a} b"},
     {"map_missing_arrow", "#{a 1}"},
     {"map_duplicate_keys", "#{a => 1,a => 2}"},
     {"map_duplicate_keys_spelled_differently", "#{1 => a,16#1 => b}"},
     {"map_duplicate_keys_strings", "#{\"ab\" => 1,[97,98] => 2}"},
     {"binary_byte_256", "<<256>>"},
     {"binary_byte_negative", "<<-1>>"},
     {"binary_atom_element", "<<a>>"},
     {"variable", "Foo"},
     {"bad_base_digit", "2#102"},
     {"float_overflow", "1.0e400"},
     {"atom_256_chars", lists:duplicate(256, $a)},
     {"quoted_atom_256_chars", [$', lists:duplicate(256, $b), $']},
     {"unicode_atom_256_chars",
      [$', unicode:characters_to_binary(lists:duplicate(256, 16#43F)), $']},
     {"invalid_utf8", <<"'", 16#C3, 16#28, "'">>},
     {"deep_lists_600", [lists:duplicate(600, $[), lists:duplicate(600, $])]},
     {"deep_tuples_600", [lists:duplicate(600, ${), lists:duplicate(600, $})]},
     {"pid_missing_creation", "#Pid<node@host.1.2>"},
     {"pid_id_too_big", "#Pid<node@host.4294967296.0.1>"},
     {"pid_no_node", "#Pid<1.2.3>"},
     {"ref_six_words", "#Ref<node@host.1.2.3.4.5.6.7>"},
     {"ref_no_words", "#Ref<node@host>"},
     {"unknown_hash", "#Port<0.1>"}].
