#!/usr/bin/perl
# mkmmdb.pl — turns a readable network list into a MaxMind DB (.mmdb) for the
# geo unit tests, with Debian's libmaxmind-db-writer-perl.
#
# Usage: mkmmdb.pl SOURCE.txt OUTPUT.mmdb
#
# SOURCE format (one network per line, '#' starts a comment):
#   @ip_version 4|6          optional directive, default 6
#   @database_type NAME      optional directive, default sovdns-Test-City
#   NETWORK CONTINENT COUNTRY SUBDIVISION LATITUDE LONGITUDE [CITY NAME...]
# A '-' leaves the field out of the record, so a line can describe a
# Country-style record (no coordinates) or a record with nothing usable.
# Field names and types follow GeoIP2/GeoLite2 City (continent.code,
# country.iso_code, subdivisions[0].iso_code, location.latitude/longitude,
# city.names.en), which is what geo/geo_map.c reads.
#
# Exit status 77 (the meson/automake "skip" code) when the Perl module is
# missing, so the build can tell "cannot build the fixture" from "bad fixture".
use strict;
use warnings;

BEGIN {
	eval { require MaxMind::DB::Writer::Tree; 1 } or do {
		print STDERR "mkmmdb.pl: MaxMind::DB::Writer::Tree is not installed "
		    . "(Debian package libmaxmind-db-writer-perl)\n";
		exit 77;
	};
}

die "usage: $0 SOURCE.txt OUTPUT.mmdb\n" unless @ARGV == 2;
my ($src, $out) = @ARGV;

my %types = (
	continent    => 'map',
	country      => 'map',
	subdivisions => ['array', 'map'],
	location     => 'map',
	city         => 'map',
	names        => 'map',
	code         => 'utf8_string',
	iso_code     => 'utf8_string',
	latitude     => 'double',
	longitude    => 'double',
	en           => 'utf8_string',
	note         => 'utf8_string',
);

my $ip_version = 6;
my $db_type = 'sovdns-Test-City';
my @rows;
open my $in, '<', $src or die "$src: $!\n";
while (my $line = <$in>) {
	chomp $line;
	$line =~ s/#.*//;
	next if $line =~ /^\s*$/;
	if ($line =~ /^\s*\@ip_version\s+([46])\s*$/) { $ip_version = $1; next; }
	if ($line =~ /^\s*\@database_type\s+(\S+)\s*$/) { $db_type = $1; next; }
	my ($net, $cont, $cc, $sub, $lat, $lon, @city) = split ' ', $line;
	die "$src:$.: expected NETWORK CONTINENT COUNTRY SUBDIVISION LAT LON [CITY]\n"
	    unless defined $lon;
	my %rec;
	$rec{continent} = { code => $cont } if $cont ne '-';
	$rec{country} = { iso_code => $cc } if $cc ne '-';
	$rec{subdivisions} = [ { iso_code => $sub } ] if $sub ne '-';
	if ($lat ne '-' && $lon ne '-') {
		$rec{location} = { latitude => $lat + 0, longitude => $lon + 0 };
	}
	$rec{city} = { names => { en => join(' ', @city) } } if @city;
	# An otherwise empty record still marks the network as present.
	$rec{note} = 'no location data' unless %rec;
	push @rows, [ $net, \%rec, $. ];
}
close $in;

my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version            => $ip_version,
	record_size           => 24,
	database_type         => $db_type,
	languages             => ['en'],
	description           => { en => "sovdns unit-test fixture from $src" },
	map_key_type_callback => sub { $types{ $_[0] } },
	# The fixture uses documentation prefixes (RFC 5737, RFC 3849), which
	# the writer drops by default as "reserved".
	remove_reserved_networks => 0,
	# Like MaxMind's own databases: ::ffff:0:0/96 and 2002::/16 lead to the
	# IPv4 subtree, which exercises the alias handling of the tree walk.
	alias_ipv6_to_ipv4 => ($ip_version == 6 ? 1 : 0),
);
# Shorter prefixes first, so a more specific line always wins.
for my $r (sort { (split m{/}, $a->[0])[1] <=> (split m{/}, $b->[0])[1] } @rows) {
	$tree->insert_network($r->[0], $r->[1]);
}
open my $fh, '>:raw', "$out.tmp" or die "$out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "$out.tmp: $!\n";
rename "$out.tmp", $out or die "$out: $!\n";
