"""
Packaging of Nova on Twisted (distribution C{txnova}).
"""

from setuptools import find_packages, setup

setup(
    name="txnova",
    version="0.1.0",
    description="An IaaS cloud controller with EC2 and S3 APIs, built on Twisted",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(exclude=["tests", "tests.*", "benchmarks"]) + ["twisted.plugins"],
    package_data={"nova.rpc": ["*.xml"], "nova": ["etc/*"],
                  "nova.api.dashboard": ["templates/*.html", "static/*.css", "static/*.js"]},
    include_package_data=True,
    install_requires=[
        "Twisted[tls]>=24.7",
        "txAMQP>=0.8.2",
        "txredisapi>=1.4.10",
        "storm>=1.0",
        "psycopg2-binary>=2.9",
        "ldap3>=2.9",
        "attrs>=23.1",
        "zope.interface>=6.0",
        "cryptography>=42",
        "treq>=23.11",
        "botocore>=1.34",
        "boto3>=1.34",
        # The web dashboard's templates (autoescaped HTML).
        "Jinja2>=3.1",
        # Config drives (ISO 9660 images written in pure Python).
        "pycdlib>=1.14",
        # The VNC console's websocket proxy (autobahn's Twisted websockets).
        "autobahn>=23.1",
    ],
    extras_require={
        "mysql": ["mysqlclient>=2.2"],
        "libvirt": ["libvirt-python>=9.0"],
        "test": ["awscli>=1.32", "boto>=2.49", "moto[server]>=5.0", "apache-libcloud>=3.8",
                 "openstacksdk>=4.0", "python-openstackclient>=7.0",
                 # The dashboard's browser tests drive the system Chromium.
                 "playwright>=1.40",
                 # Property-based fuzzing of the EC2 parser and the S3 router.
                 "hypothesis>=6.100",
                 # benchmarks/profile_launch.py samples nova-all with it.
                 "py-spy>=0.3"],
        # The documentation site (`make docs`); docutils within what awscli,
        # of the test extra, allows.
        "docs": ["sphinx>=7.3,<8", "myst-parser>=4.0,<5", "docutils>=0.19,<0.20"],
    },
    entry_points={
        "console_scripts": [
            "nova-manage=nova.manage:main",
            "nova-dhcpbridge=nova.network.dhcpbridge:main",
            "nova-bundle-image=nova.image.bundletool:main",
        ],
    },
    classifiers=[
        "Framework :: Twisted",
        "Programming Language :: Python :: 3",
    ],
)
