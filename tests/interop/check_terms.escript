#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noshell
%%
%% check_terms.escript IN
%%
%% Reads the terms Grove wrote to IN (each a 4-byte big-endian length and
%% then the term's bytes), and checks that Erlang's binary_to_term/1 reads
%% every one, and that term_to_binary/1 of what it read gives back the very
%% same bytes. Prints the details of the first few mismatches and exits 1
%% if there was any; exits 0 when all agree.
-mode(compile).

-define(SHOW, 5).

main([In]) ->
    {ok, Data} = file:read_file(In),
    {N, Bad} = check(Data, 0, 0),
    io:format("check_terms: ~b terms read, ~b mismatches~n", [N, Bad]),
    halt(case Bad of 0 -> 0; _ -> 1 end);
main(_) ->
    io:format(standard_error, "usage: check_terms.escript IN~n", []),
    halt(64).

check(<<>>, N, Bad) ->
    {N, Bad};
check(<<Len:32, B:Len/binary, Rest/binary>>, N, Bad) ->
    case one(B) of
        ok ->
            check(Rest, N + 1, Bad);
        Why ->
            Bad < ?SHOW andalso show(N, B, Why),
            check(Rest, N + 1, Bad + 1)
    end;
check(Tail, N, _Bad) ->
    io:format(standard_error, "FAIL: the file is cut short after term ~b (~b bytes left: ~w)~n",
              [N, byte_size(Tail), binary:part(Tail, 0, min(16, byte_size(Tail)))]),
    halt(1).

one(B) ->
    try binary_to_term(B) of
        T ->
            case term_to_binary(T) of
                B -> ok;
                Other -> {differs, T, Other}
            end
    catch
        Class:Reason -> {refused, Class, Reason}
    end.

show(N, B, {refused, Class, Reason}) ->
    io:format(standard_error,
              "FAIL term #~b (0-based): binary_to_term/1 refused Grove's bytes: ~p:~p~n"
              "  Grove's bytes (~b): ~s~n",
              [N, Class, Reason, byte_size(B), hex(B)]);
show(N, B, {differs, T, Erl}) ->
    At = first_difference(B, Erl, 0),
    io:format(standard_error,
              "FAIL term #~b (0-based): term_to_binary(binary_to_term(Grove's bytes)) differs "
              "at byte ~b~n  term: ~tP~n  Grove  (~b bytes): ~s~n  Erlang (~b bytes): ~s~n",
              [N, At, T, 30, byte_size(B), hex_around(B, At), byte_size(Erl), hex_around(Erl, At)]).

first_difference(<<X, A/binary>>, <<X, B/binary>>, I) -> first_difference(A, B, I + 1);
first_difference(_, _, I) -> I.

hex(B) when byte_size(B) > 96 -> [hex(binary:part(B, 0, 96)), " ..."];
hex(B) -> lists:join(" ", [integer_to_list(X) || <<X>> <= B]).

hex_around(B, At) ->
    From = max(0, At - 24),
    Len = min(byte_size(B) - From, 64),
    [io_lib:format("[~b..] ", [From]), hex(binary:part(B, From, Len))].
