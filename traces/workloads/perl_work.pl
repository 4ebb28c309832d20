# Bundled workload: perl hashes, strings, regexes and sorting.
# Run with PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 so the run repeats exactly.
use strict;
use warnings;

my $rounds = shift // 30;
my %freq;
my @keep;
for my $r (1 .. $rounds) {
    my @lines = map { join(',', "row$_", $r * $_ % 977, 'v' x ($_ % 50)) } 1 .. 2000;
    for my $line (@lines) {
        for my $field (split /,/, $line) {
            $freq{$1}++ while $field =~ /([a-z]+\d?)/g;
        }
    }
    push @keep, join(';', (sort @lines)[0 .. 99]);
    shift @keep if @keep > 5;
}
my @top = (sort { $freq{$b} <=> $freq{$a} || $a cmp $b } keys %freq)[0 .. 4];
print scalar(keys %freq), " keys; top: @top\n";
